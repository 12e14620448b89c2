"""DKIM without I/O: relaxed canonicalization (against dkimpy's), the h= list, the record and
its DNS status, signing domains, sealing, and the DNS_NAMESERVERS setting."""

from __future__ import annotations

import base64

import pytest
from dkim.canonicalization import Relaxed

from campaignd.delivery import dkim as keys
from campaignd.domain.dkim import (
    DIFFERS,
    NOT_PUBLISHED,
    PUBLISHED,
    DkimProblem,
    checked_domain,
    checked_selector,
    published_status,
    relaxed_body,
    relaxed_header,
    signed_headers,
    signing_domains,
    split_message,
)
from campaignd.settings import SettingsError, load_settings, nameserver_addresses

BODIES = [
    b"",
    b"\r\n\r\n",
    b"Hi  there \t you\r\n\r\n\r\n",
    b"a\r\n \r\n\t\r\nb  \r\n",
    b"last line  \r\n",
    b"=C3=A9t=C3=A9 \r\n.dot\r\n\tindented\r\n",
]


@pytest.mark.parametrize("body", BODIES)
def test_relaxed_body_agrees_with_dkimpy(body: bytes) -> None:
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


@pytest.mark.parametrize(
    "field",
    [
        b"Subject: Hello   world  ",
        b"SUBJECT :\tfolded\r\n  over\r\n\tlines",
        b"To: a@example.org",
        b"X-Empty:",
    ],
)
def test_relaxed_header_agrees_with_dkimpy(field: bytes) -> None:
    name, value = field.split(b":", 1)
    [(expected_name, expected_value)] = Relaxed.canonicalize_headers([(name, value)])
    assert relaxed_header(field) == expected_name + b":" + expected_value


def test_signed_headers_oversign_and_take_the_last_instance_first() -> None:
    fields, body = split_message(
        b"Received: x\r\nFrom: a@x.org\r\nTo: b@y.org\r\nSubject: one\r\n"
        b"Subject: two\r\n folded\r\nMIME-Version: 1.0\r\n\r\nbody\r\n"
    )
    assert body == b"body\r\n"
    signed = signed_headers(fields)
    assert signed.names[:6] == ["from", "from", "reply-to", "to", "to", "subject"]
    assert signed.names.count("subject") == 3  # two instances and one more
    assert "received" not in signed.names
    assert signed.names.count("mime-version") == 1  # not oversigned
    assert signed.canonical.index(b"subject:two folded") < signed.canonical.index(b"subject:one")


def test_record_status() -> None:
    value = "v=DKIM1; k=rsa; p=QUJD"
    assert published_status("rsa", "QUJD", []) == NOT_PUBLISHED
    assert published_status("rsa", "QUJD", [value]) == PUBLISHED
    assert published_status("rsa", "QUJD", ["v=DKIM1;k=rsa;p=QU JD"]) == PUBLISHED
    assert published_status("rsa", "QUJD", ["p=QUJD"]) == PUBLISHED  # v and k are optional
    assert published_status("rsa", "QUJD", ["v=DKIM1; k=rsa; p=other"]) == DIFFERS
    assert published_status("ed25519", "QUJD", [value]) == DIFFERS
    assert published_status("rsa", "QUJD", [value, "v=DKIM1; p=other"]) == DIFFERS


def test_names_are_checked() -> None:
    assert checked_domain(" News.Example.ORG. ") == "news.example.org"
    assert checked_domain("bücher.example") == "xn--bcher-kva.example"
    assert checked_selector("2026-A") == "2026-a"
    for bad in ("", "example", "a..b", "-a.example", "a b.example", "x" * 64 + ".example"):
        with pytest.raises(DkimProblem):
            checked_domain(bad)
    for bad in ("", "a_b", "-a", "x" * 64):
        with pytest.raises(DkimProblem):
            checked_selector(bad)


def test_signing_domains_go_up_to_two_labels() -> None:
    assert signing_domains("a.news.acme.example") == [
        "a.news.acme.example",
        "news.acme.example",
        "acme.example",
    ]
    assert signing_domains("acme.example") == ["acme.example"]
    assert signing_domains("localhost") == ["localhost"]


def test_a_sealed_key_opens_only_with_its_secret_and_row() -> None:
    pair = keys.generate_key("ed25519")
    context = keys.seal_context(1, "acme.example", "cmp1")
    sealed = keys.seal(pair.private_pem, "secret one", context)
    assert b"PRIVATE" not in base64.b64decode(sealed)
    assert keys.unseal(sealed, "secret one", context) == pair.private_pem
    with pytest.raises(DkimProblem):
        keys.unseal(sealed, "secret two", context)
    with pytest.raises(DkimProblem):
        keys.unseal(sealed, "secret one", keys.seal_context(2, "acme.example", "cmp1"))


def test_nameservers_setting() -> None:
    assert nameserver_addresses("192.0.2.53, 127.0.0.1:5353,[::1]:53,::1") == [
        ("192.0.2.53", 53),
        ("127.0.0.1", 5353),
        ("::1", 53),
        ("::1", 53),
    ]
    with pytest.raises(SettingsError, match=r"CAMPAIGND_DNS_NAMESERVERS: 'dns\.example'"):
        load_settings(_env_file=None, dns_nameservers="dns.example")
    with pytest.raises(SettingsError, match="the port must be 1 to 65535"):
        load_settings(_env_file=None, dns_nameservers="127.0.0.1:0")
