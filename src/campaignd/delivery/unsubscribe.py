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
    """Seals and opens tokens with one secret (keeps the cipher for speed)."""

    def __init__(self, secret: str) -> None:
        self._cipher = AESGCM(sha256(f"{SALT}:{secret}".encode()).digest())

    def seal(self, payload: object) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_encode(nonce)}.{_encode(self._cipher.encrypt(nonce, plain, SALT.encode()))}"

    def make(self, organization_id: int, email: str) -> str:
        return self.seal([organization_id, email])

    def read(self, token: str) -> tuple[int, str]:
        """(organization id, address); ValueError for anything forged or malformed."""
        try:
            nonce, sealed = (_decode(part) for part in token.split("."))
            payload = json.loads(self._cipher.decrypt(nonce, sealed, SALT.encode()))
        except (ValueError, InvalidTag, binascii.Error):
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
