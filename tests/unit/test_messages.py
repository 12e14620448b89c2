"""Messages built straight to bytes parse back (email.parser) to what the campaign says."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from campaignd.delivery.encoding import encoded_words, unstructured
from campaignd.delivery.messages import CampaignContent, MessageBuilder
from campaignd.delivery.unsubscribe import read_token

SECRET = "unsubscribe-secret-for-the-tests-0123456789"


def builder(**changes: object) -> MessageBuilder:
    content: dict[str, object] = {
        "campaign_id": 12,
        "organization_id": 3,
        "subject": "Hello {{ name }}",
        "html_body": "<html><body><p>Hi {{ name }}</p></body></html>",
        "text_body": "Hi {{ name }}",
        "from_address": "news@acme.example",
        "reply_to": None,
    }
    content.update(changes)
    return MessageBuilder(
        CampaignContent(**content),  # type: ignore[arg-type]
        public_url="https://mail.example.org/",
        unsubscribe_secret=SECRET,
        installation="a1b2c3d4",
    )


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers() -> None:
    built = builder(reply_to="Help Desk <help@acme.example>").build(
        99, "ada@example.org", {"name": "Ada"}
    )
    assert built.message_id == "12.99.a1b2c3d4@acme.example"
    assert (built.sender, built.recipient) == ("news@acme.example", "ada@example.org")
    message = parse(built.data)
    assert message["Message-ID"] == "<12.99.a1b2c3d4@acme.example>"
    assert message["From"] == "news@acme.example"
    assert message["Reply-To"] == "Help Desk <help@acme.example>"
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Hello Ada"
    assert message["X-Campaign-Id"] == "12"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(message["List-Unsubscribe"])
    assert url.startswith("<https://mail.example.org/u/") and url.endswith(">")
    assert read_token(SECRET, url[1:-1].rsplit("/", 1)[1]) == (3, "ada@example.org")
    assert not message.defects


def test_the_message_id_is_the_same_on_every_try() -> None:
    first = builder().build(5, "ada@example.org", None)
    second = builder().build(5, "ada@example.org", None)
    assert parse(first.data)["Message-ID"] == parse(second.data)["Message-ID"]


def test_both_bodies_make_a_multipart_alternative_with_html_last() -> None:
    message = parse(builder().build(1, "ada@example.org", {"name": "Ada"}).data)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"


@pytest.mark.parametrize(
    ("html", "text", "expected"),
    [
        ("<p>x</p>", None, "multipart/alternative"),
        (None, "x", "text/plain"),
        (None, None, "text/plain"),
    ],
)
def test_a_text_body_alone_makes_a_single_part_and_html_gets_a_text_part(
    html: str | None, text: str | None, expected: str
) -> None:
    message = parse(builder(html_body=html, text_body=text).build(1, "a@x.org", None).data)
    assert message.get_content_type() == expected
    for part in message.walk():
        if not part.is_multipart():
            assert "/u/" in part.get_content()  # the footer at least


def test_personal_values_are_escaped_in_html_and_kept_in_text() -> None:
    variables = {"name": "<script>alert(1)</script> & Zoë"}
    message = parse(builder().build(1, "ada@example.org", variables).data)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zoë" in html.get_content()
    assert "<script>" not in html.get_content()
    assert "Hi <script>alert(1)</script> & Zoë" in text.get_content()


def test_email_and_unsubscribe_url_are_in_the_context_and_win_over_variables() -> None:
    built = builder(text_body="To {{ email }}: {{ unsubscribe_url }}", html_body=None).build(
        1, "ada@example.org", {"email": "forged@evil.example", "unsubscribe_url": "x"}
    )
    message = parse(built.data)
    content = message.get_content()
    link = str(message["List-Unsubscribe"])[1:-1]
    assert f"To ada@example.org: {link}" in content
    assert "To unsubscribe" not in content  # the body has the link: no footer


def test_a_footer_with_the_link_goes_before_the_closing_body_tag() -> None:
    message = parse(builder().build(1, "ada@example.org", {"name": "Ada"}).data)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    link = str(message["List-Unsubscribe"])[1:-1]
    content = html.get_content()
    assert f'<a href="{link}">Unsubscribe</a>' in content
    assert content.index("Unsubscribe</a>") < content.index("</body>")
    assert text.get_content().rstrip().endswith(f"To unsubscribe: {link}")


def test_non_ascii_subject_and_sender_name_are_encoded_words() -> None:
    built = builder(
        subject="Grüße aus Köln, {{ name }} — " + "ünïcödé " * 12,
        from_address="Café Zoë <news@café.example>",
    ).build(1, "ada@example.org", {"name": "Ada"})
    head = built.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?b?" in head
    for line in head.split(b"\r\n"):
        assert len(line) <= (998 if line.startswith(b"List-Unsubscribe:") else 76)
    message = parse(built.data)
    assert message["Subject"] == "Grüße aus Köln, Ada — " + " ".join(["ünïcödé"] * 12)
    assert message["From"].addresses[0].display_name == "Café Zoë"
    assert message["From"].addresses[0].domain == "xn--caf-dma.example"
    assert built.sender == "news@xn--caf-dma.example"
    assert built.message_id == "12.1.a1b2c3d4@xn--caf-dma.example"


def test_long_plain_subjects_are_folded_and_newlines_never_reach_headers() -> None:
    long = " ".join(f"word{index}" for index in range(40))
    built = builder(subject="{{ name }} " + long).build(
        1, "ada@example.org", {"name": "Bcc: evil@example.org\r\nX-Injected: yes"}
    )
    head = built.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Injected" not in head
    message = parse(built.data)
    assert message["Subject"] == "Bcc: evil@example.org X-Injected: yes " + long
    assert "Bcc" not in message or message["Bcc"] is None


def test_bodies_are_crlf_quoted_printable_with_short_lines() -> None:
    text = "x" * 300 + "\n.starts with a dot\nends with spaces   \r\nmixed\rendings"
    built = builder(text_body=text, html_body=None).build(1, "a@x.org", None)
    body = built.data.split(b"\r\n\r\n", 1)[1]
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert b"\r" not in body.replace(b"\r\n", b"")
    for line in body.split(b"\r\n"):
        assert len(line) <= 76
    content = parse(built.data).get_content().replace("\r\n", "\n")
    assert content.startswith(
        "x" * 300 + "\n.starts with a dot\nends with spaces   \nmixed\nendings"
    )


def test_encoded_words_never_split_a_character() -> None:
    value = "€" * 100
    words = encoded_words(value).split("\r\n ")
    assert all(len(word) <= 75 for word in words)
    decoded = parse(f"{unstructured('Subject', value)}\r\n\r\n".encode())["Subject"]
    assert decoded == value


def test_templates_are_compiled_once_per_campaign() -> None:
    built = builder()
    templates = built.templates
    for index in range(3):
        built.build(index, f"user{index}@example.org", {"name": str(index)})
    assert built.templates is templates


def test_two_installations_never_send_the_same_message_id() -> None:
    """A fresh database and a staging copy with its own id: same campaign and delivery
    ids, different Message-IDs."""
    first = builder().build(12, "ada@example.org", {})
    other = MessageBuilder(
        builder().content,
        public_url="https://mail.example.org/",
        unsubscribe_secret=SECRET,
        installation="99887766",
    ).build(12, "ada@example.org", {})
    assert first.message_id != other.message_id
    assert other.message_id == "12.12.99887766@acme.example"
