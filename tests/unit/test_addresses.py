"""Addresses are compared trimmed and lower-cased; invalid ones say why; one parser decides."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignd.delivery.encoding import mailbox
from campaignd.domain.addresses import InvalidAddress, Mailbox, is_plain, normalise, parse_mailbox
from campaignd.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("O'Brien@example.ie", "o'brien@example.ie"),
        ("ünï@exämple.com", "ünï@exämple.com"),
    ],
)
def test_normalised(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign",
        "a@",
        "@example.com",
        "a..b@example.com",
        "a@b",
        "a.@example.com",
        "x@host.local",
        "x@localhost",
        "ada@example.com\r\nBcc: x@y.org",
        "ada@example.com\n",
    ],
)
def test_invalid_addresses_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidAddress) as error:
        normalise(raw)
    assert str(error.value)


def _validator(candidate: str) -> str | None:
    """What email-validator makes of an address (syntax only), lower-cased; None if refused."""
    try:
        return validate_email(candidate, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


TRICKY = [
    "ada@example.com",
    "a.@example.com",
    ".a@example.com",
    "a..b@example.com",
    "a.b@example.com",
    "x@host.local",
    "x@host.localhost",
    "x@localhost",
    "x@example.test",
    "x@a.invalid",
    "x@foo.onion",
    "x@1.2.3.in-addr.arpa",
    "x@example.com.",
    "x@.example.com",
    "x@example..com",
    "x@-example.com",
    "x@example-.com",
    "x@example.-com",
    "x@example.com-",
    "x@example.c0m",
    "x@example.123",
    "x@123.com",
    "x@ab--cd.com",
    "x@xn--caf-dma.example",
    "x@xn--zz.com",
    "x@a.b",
    "x@e.x",
    "a+b%c'd@example.com",
    "!#$%&'*+/=?^_`{|}~-@example.com",
    "a/b@example.com",
    "a\\b@example.com",
    '"a b"@example.com',
    "a b@example.com",
    "a@b@example.com",
    "a(b)@example.com",
    "a@[127.0.0.1]",
    "a@example_domain.com",
    "postmaster@example.com",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x@" + ".".join(["a" * 60] * 4) + ".com",
    "x@" + ".".join(["a" * 61] * 4) + ".com",
    "ünï@exämple.com",
    "x@example.com\n",
]


@pytest.mark.parametrize("candidate", TRICKY)
def test_the_fast_path_agrees_with_email_validator(candidate: str) -> None:
    expected = _validator(candidate)
    if is_plain(candidate):
        assert expected == candidate
    try:
        assert normalise(candidate) == expected
    except InvalidAddress:
        assert expected is None


LOCAL = st.text(alphabet="ab.-_+'`{}|~!#$%&*/=?^", min_size=1, max_size=8)
LABEL = st.text(alphabet="ab09-", min_size=1, max_size=6)
TOP = st.sampled_from(["com", "org", "c0m", "local", "test", "co-", "x", "arpa", "123", "de"])


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(local=LOCAL, labels=st.lists(LABEL, min_size=0, max_size=3), top=TOP)
def test_whatever_the_fast_path_accepts_email_validator_accepts_unchanged(
    local: str, labels: list[str], top: str
) -> None:
    candidate = f"{local}@{'.'.join([*labels, top])}"
    if is_plain(candidate):
        assert _validator(candidate) == candidate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", Mailbox("ada@example.com")),
        ("<ada@example.com>", Mailbox("ada@example.com")),
        ("News <News@Acme.example>", Mailbox("news@acme.example", "News")),
        ('"Lovelace, Ada" <ada@example.com>', Mailbox("ada@example.com", "Lovelace, Ada")),
        ('"Say \\"hi\\"" <ada@example.com>', Mailbox("ada@example.com", 'Say "hi"')),
        ("Café Zoë <news@café.example>", Mailbox("news@café.example", "Café Zoë")),
        ("  The   News  <news@acme.example> ", Mailbox("news@acme.example", "The News")),
    ],
)
def test_a_mailbox_is_parsed_into_display_name_and_address(raw: str, expected: Mailbox) -> None:
    assert parse_mailbox(raw) == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('"a\r\nBcc: victim@x.example"@evil.example <news@acme.example>', "line break"),
        ("News\n <news@acme.example>", "line break"),
        ("News <news@acme.example>\r\n", "line break"),
        ("News\x00 <news@acme.example>", "control character"),
        ("a@x.org, b@y.org", "exactly one address"),
        ("a@x.org; b@y.org", "exactly one address"),
        ("A <a@x.org>, B <b@y.org>", "exactly one address"),
        ("a@x.org, B <b@y.org>", "exactly one address"),
        ("A <a@x.org> <b@y.org>", "exactly one address"),
        ("A <a@x.org> trailing", "must come last"),
        ('"a b"@evil.example <news@acme.example>', "quoted as a whole"),
        ('"unclosed <news@acme.example>', "never closed"),
        ("Ada (Lovelace) <ada@example.com>", "double quotes"),
        ("News <news@acme.local>", "special-use"),
        ("News <>", "empty"),
        ("", "empty"),
    ],
)
def test_anything_but_one_clean_mailbox_is_refused(raw: str, words: str) -> None:
    with pytest.raises(InvalidAddress) as error:
        parse_mailbox(raw)
    assert words in str(error.value)


def test_the_configured_sender_may_use_a_special_use_domain() -> None:
    assert parse_mailbox("campaigns@localhost", special_use_domain=True) == Mailbox(
        "campaigns@localhost"
    )
    assert parse_mailbox("Ops <ops@mail.internal.test>", special_use_domain=True) == Mailbox(
        "ops@mail.internal.test", "Ops"
    )
    with pytest.raises(InvalidAddress):
        parse_mailbox("a.@localhost", special_use_domain=True)
    with pytest.raises(InvalidAddress):
        parse_mailbox("a@local_host", special_use_domain=True)


@pytest.mark.parametrize(
    "raw",
    [
        "News <news@acme.example>",
        '"Lovelace, Ada" <ada@example.com>',
        '"Say \\"hi\\"" <ada@example.com>',
        "Café Zoë <news@acme.example>",
        "news@acme.example",
    ],
)
def test_the_header_carries_exactly_the_parsed_name_and_address(raw: str) -> None:
    """What the API validated is what the From header says: parse the header back."""
    from email.headerregistry import HeaderRegistry

    header, address = mailbox(raw)
    parsed = parse_mailbox(raw)
    assert address == parsed.address
    value = HeaderRegistry()("From", header)
    (only,) = value.addresses  # type: ignore[attr-defined]
    assert only.addr_spec == parsed.address
    assert only.display_name == (parsed.display_name or "")


@pytest.mark.parametrize(
    "raw",
    ['"a\r\nBcc: victim@x.example"@evil.example <news@acme.example>', "a@x.org, b@y.org"],
)
def test_the_header_builder_refuses_what_the_parser_refuses(raw: str) -> None:
    with pytest.raises(ValueError):
        mailbox(raw)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("news@acme.example\r\nBcc: victim@x.example", "line break"),
        ("a@x.org, b@y.org", "exactly one address"),
        ("not an address", ""),
    ],
)
def test_a_bad_default_sender_stops_the_start(value: str, words: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, from_address=value)
    assert str(error.value).startswith("CAMPAIGND_FROM_ADDRESS: ")
    assert words in str(error.value)


def test_the_default_sender_is_accepted() -> None:
    assert load_settings(_env_file=None).from_address == "campaigns@localhost"
    assert load_settings(_env_file=None, from_address="News <news@acme.example>").from_address
