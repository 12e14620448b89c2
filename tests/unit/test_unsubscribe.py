"""Unsubscribe tokens name organization and address, and cannot be forged."""

from __future__ import annotations

import base64

import pytest

from campaignd.delivery.unsubscribe import TokenSigner, make_token, read_token

SECRET = "a-secret-of-the-instance-that-is-long-enough"


def test_a_token_names_the_organization_and_the_address() -> None:
    token = make_token(SECRET, 7, "ada@example.org")
    assert read_token(SECRET, token) == (7, "ada@example.org")
    assert "ada@example.org" not in token
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()


def test_tokens_differ_per_address_and_organization() -> None:
    tokens = {
        make_token(SECRET, 1, "ada@example.org"),
        make_token(SECRET, 2, "ada@example.org"),
        make_token(SECRET, 1, "bob@example.org"),
    }
    assert len(tokens) == 3


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "WzEsImFkYUBleGFtcGxlLm9yZyJd",  # a payload without a seal
        "WzEsImFkYUBleGFtcGxlLm9yZyJd.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "a.b.c",
    ],
)
def test_malformed_or_unsigned_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError):
        read_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = make_token("another-secret-entirely-different-from-ours", 1, "ada@example.org")
    with pytest.raises(ValueError):
        read_token(SECRET, token)


def test_changing_the_payload_breaks_the_signature() -> None:
    token = make_token(SECRET, 1, "ada@example.org")
    other = make_token(SECRET, 2, "ada@example.org")
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(ValueError):
        read_token(SECRET, forged)


def test_a_sealed_payload_of_the_wrong_shape_is_refused() -> None:
    signer = TokenSigner(SECRET)
    for payload in (["1", "a@x.org"], [True, "a@x.org"], {"org": 1}, [1, "a", "b"]):
        with pytest.raises(ValueError):
            read_token(SECRET, signer.seal(payload))


def test_the_address_cannot_be_read_out_of_a_token() -> None:
    token = make_token(SECRET, 1, "ada@example.org")
    decoded = b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")
    )
    assert b"ada" not in decoded
    assert b"example" not in decoded


def test_every_token_has_a_nonce_of_its_own() -> None:
    signer = TokenSigner("secret")
    nonces = [signer.make(1, "ada@example.org").split(".")[0] for _ in range(3 * 256 + 5)]
    assert len(set(nonces)) == len(nonces)
    assert all(
        signer.read(signer.make(1, f"user{n}@example.org")) == (1, f"user{n}@example.org")
        for n in range(300)
    )
