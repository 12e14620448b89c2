"""Unsubscribe tokens: opaque, authenticated, naming the organization and the address.

A token is the pair (organization id, address) sealed with AES-GCM under a key derived
from the instance's ``unsubscribe`` secret: nobody can read the address out of a link,
forge one for another address, or enumerate them. Tokens do not expire, because a link
in an old email must keep working.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from functools import lru_cache
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT = "campaignd.unsubscribe"
SECRET_NAME = "unsubscribe"
NONCE_BYTES = 12


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Seals and opens tokens with one secret (keeps the cipher for speed).

    ``salt`` keeps tokens of different purposes apart: a token sealed under one salt does
    not open under another, even with the same secret.
    """

    def __init__(self, secret: str, *, salt: str = SALT) -> None:
        self._salt = salt.encode()
        self._cipher = AESGCM(sha256(f"{salt}:{secret}".encode()).digest())

    def seal(self, payload: object) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_encode(nonce)}.{_encode(self._cipher.encrypt(nonce, plain, self._salt))}"

    def open(self, token: str) -> object:
        """The payload sealed in ``token``; ValueError for anything forged or malformed."""
        try:
            nonce, sealed = (_decode(part) for part in token.split("."))
            payload: object = json.loads(self._cipher.decrypt(nonce, sealed, self._salt))
        except (ValueError, InvalidTag, binascii.Error):
            raise ValueError("invalid token") from None
        return payload

    def make(self, organization_id: int, email: str) -> str:
        return self.seal([organization_id, email])

    def read(self, token: str) -> tuple[int, str]:
        """(organization id, address); ValueError for anything forged or malformed."""
        try:
            payload = self.open(token)
        except ValueError:
            raise ValueError("invalid unsubscribe token") from None
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], int)
            or isinstance(payload[0], bool)
            or not isinstance(payload[1], str)
        ):
            raise ValueError("invalid unsubscribe token")
        return payload[0], payload[1]


@lru_cache(maxsize=8)
def _signer(secret: str) -> TokenSigner:
    return TokenSigner(secret)


def make_token(secret: str, organization_id: int, email: str) -> str:
    return _signer(secret).make(organization_id, email)


def read_token(secret: str, token: str) -> tuple[int, str]:
    """(organization id, address) named by ``token``; raises ValueError when forged."""
    return _signer(secret).read(token)
