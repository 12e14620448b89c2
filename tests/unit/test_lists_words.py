"""Lists' names, confirmation tokens, single messages and the ``preferences_url`` variable."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from campaignd.delivery.confirmation import (
    Confirmation,
    confirmation_message,
    make_confirmation_token,
    read_confirmation_token,
)
from campaignd.delivery.single_message import single_message
from campaignd.delivery.unsubscribe import TokenSigner, make_token, read_token
from campaignd.domain.lists import name_problem, split_names
from campaignd.domain.subscribe_form import FormList, form_html
from campaignd.domain.templates import compile_campaign, recipient_context

SECRET = "a-secret-of-the-instance-that-is-long-enough"
ISSUED = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Weekly news", "Offres spéciales", "a", "x" * 100, "v1.2-beta"])
def test_names_a_list_may_have(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (" news", "must not start or end with a space"),
        ("x" * 101, "at most 100 characters"),
        ("news\tletter", "control characters"),
        ("a/b", "'/' or ','"),
        ("a,b", "'/' or ','"),
        ("form", "reserved"),
        ("Form", "reserved"),
    ],
)
def test_names_a_list_may_not_have(name: str, words: str) -> None:
    problem = name_problem(name)
    assert problem is not None and words in problem


def test_split_names() -> None:
    assert split_names(" news, offers,,news ,") == ["news", "offers"]


def test_a_confirmation_token_round_trips_and_hides_the_address() -> None:
    confirmation = Confirmation(7, "ada@example.org", (3, 4), ISSUED)
    token = make_confirmation_token(SECRET, confirmation)
    assert "ada" not in token
    assert read_confirmation_token(SECRET, token) == confirmation


def test_confirmation_and_unsubscribe_tokens_do_not_open_each_other() -> None:
    confirmation = make_confirmation_token(SECRET, Confirmation(7, "ada@example.org", (3,), ISSUED))
    unsubscribe = make_token(SECRET, 7, "ada@example.org")
    with pytest.raises(ValueError):
        read_token(SECRET, confirmation)
    with pytest.raises(ValueError):
        read_confirmation_token(SECRET, unsubscribe)
    with pytest.raises(ValueError):
        read_confirmation_token("another-secret-of-the-instance-long-enough", confirmation)


@pytest.mark.parametrize(
    "payload",
    [
        ["confirm", 7, "ada@example.org", [3]],
        ["unsubscribe", 7, "ada@example.org", [3], 1],
        ["confirm", True, "ada@example.org", [3], 1],
        ["confirm", 7, "ada@example.org", ["3"], 1],
        ["confirm", 7, None, [3], 1],
        {"confirm": 7},
    ],
)
def test_a_sealed_payload_of_another_shape_is_refused(payload: object) -> None:
    token = TokenSigner(SECRET, salt="campaignd.subscribe").seal(payload)
    with pytest.raises(ValueError):
        read_confirmation_token(SECRET, token)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_single_message_carries_both_parts_and_its_headers() -> None:
    message = single_message(
        kind="test",
        sender="Acme News <news@acme.example.com>",
        recipient="ada@example.org",
        subject="Grüße from Acme",
        text="Hello\nthere",
        html="<p>Hello <b>there</b></p>",
        installation="ab12cd34",
        headers={"Auto-Submitted": "auto-generated"},
    )
    assert message.sender == "news@acme.example.com" and message.recipient == "ada@example.org"
    assert message.message_id.startswith("test.") and message.message_id.endswith(
        ".ab12cd34@acme.example.com"
    )
    mail = parsed(message.data)
    assert mail["Subject"] == "Grüße from Acme"
    assert mail["From"] == "Acme News <news@acme.example.com>"
    assert mail["Message-ID"] == f"<{message.message_id}>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and text.get_content().replace("\r\n", "\n").strip() == "Hello\nthere"
    assert html is not None and "<b>there</b>" in html.get_content()


def test_a_header_that_could_break_the_message_is_refused() -> None:
    with pytest.raises(ValueError):
        single_message(
            kind="test",
            sender="news@acme.example.com",
            recipient="ada@example.org",
            subject="x",
            text="x",
            installation="ab12cd34",
            headers={"X-Note": "one\r\nBcc: eve@example.org"},
        )


def test_the_confirmation_message_escapes_what_it_shows() -> None:
    message = confirmation_message(
        sender="news@acme.example.com",
        recipient="ada@example.org",
        organization_name="Acme <Inc>",
        list_names=["News & more", "Offers"],
        url="https://news.acme.example/subscribe/confirm/abc",
        days=7,
        installation="ab12cd34",
    )
    mail = parsed(message.data)
    html = mail.get_body(preferencelist=("html",))
    text = mail.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    assert "Acme &lt;Inc&gt;" in html.get_content() and "News &amp; more" in html.get_content()
    assert "“News & more” and “Offers”" in text.get_content()
    assert "https://news.acme.example/subscribe/confirm/abc" in text.get_content()


def test_the_form_escapes_names_and_hides_its_honeypot() -> None:
    html = form_html(
        action="https://x.example/subscribe/acme",
        lists=[FormList('"><script>', "<i>desc</i>"), FormList("Offers")],
        chosen=["Offers"],
    )
    assert "<script>" not in html and "&lt;i&gt;desc&lt;/i&gt;" in html
    assert 'value="Offers" checked' in html
    assert 'name="website"' in html and "position:absolute" in html
    assert 'class="honeypot"' in form_html(
        action="/s", lists=[FormList("a")], hidden_class="honeypot"
    )


def test_preferences_url_is_the_unsubscribe_page_and_cannot_be_overridden() -> None:
    context = recipient_context("ada@example.org", {"preferences_url": "https://evil"}, "U")
    assert context["preferences_url"] == context["unsubscribe_url"] == "U"
    compiled = compile_campaign("s", '<a href="{{ preferences_url }}">Preferences</a>', None)
    assert not compiled.html_has_unsubscribe  # the footer with the unsubscribe link stays
    _, html, _ = compiled.render(context)
    assert html == '<a href="U">Preferences</a>'
