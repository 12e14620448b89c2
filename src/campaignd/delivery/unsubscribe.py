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
import threading
from functools import lru_cache
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT = "campaignd.unsubscribe"
SECRET_NAME = "unsubscribe"
NONCE_BYTES = 12
NONCES_AT_ONCE = 256
"""Random nonces are read from the system this many at a time: a token is made for every
message sent, and one ``os.urandom`` call a message was a system call a message."""
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps`` with ``separators`` makes a new encoder on every call; the output is
the same."""


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
        self._nonces = b""
        self._taken = 0
        self._lock = threading.Lock()  # one signer serves several threads (``make_token``)

    def _nonce(self) -> bytes:
        """A fresh random nonce: never one handed out before, whichever thread asks."""
        with self._lock:
            if self._taken >= len(self._nonces):
                self._nonces = os.urandom(NONCE_BYTES * NONCES_AT_ONCE)
                self._taken = 0
            start = self._taken
            self._taken = start + NONCE_BYTES
            return self._nonces[start : start + NONCE_BYTES]

    def seal(self, payload: object) -> str:
        nonce = self._nonce()
        plain = _COMPACT_JSON.encode(payload).encode()
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
