"""The per-delivery bounce address (VERP): ``bounces+<token>@<BOUNCE_DOMAIN>``.

The token seals one delivery id under the instance's ``unsubscribe`` secret with a salt of
its own (as ``delivery.unsubscribe`` seals its tokens, so neither opens as the other): the
id and 8 check bytes make one AES block, encrypted under a key derived from the secret.
Nobody can read the id out of an address or make one up (a forger has to hit the check
bytes: one chance in 2^64), and the same delivery always gets the same address, on every
retry. Lower-case base32 without padding, 26 characters: the local part stays far below
SMTP's 64 octets and survives receivers that change its case.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from hashlib import sha256

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SALT = "campaignd.bounce"
SECRET_NAME = "unsubscribe"
LOCAL_PREFIX = "bounces+"
CHECK = b"campaign"  # 8 bytes
ADDRESS = re.compile(r"bounces\+([a-z2-7]{26})@", re.IGNORECASE)


class BounceTokens:
    def __init__(self, secret: str) -> None:
        self._cipher = Cipher(
            algorithms.AES(sha256(f"{SALT}:{secret}".encode()).digest()),
            modes.ECB(),  # one block, never repeated for two plaintexts: a keyed permutation
        )

    def make(self, delivery_id: int) -> str:
        encryptor = self._cipher.encryptor()
        block = encryptor.update(delivery_id.to_bytes(8, "big") + CHECK) + encryptor.finalize()
        return base64.b32encode(block).decode().rstrip("=").lower()

    def read(self, token: str) -> int:
        """The delivery id sealed in ``token``; ValueError for anything forged or malformed."""
        try:
            block = base64.b32decode(token.upper() + "======")
        except (binascii.Error, ValueError):
            raise ValueError("invalid bounce token") from None
        if len(block) != 16:
            raise ValueError("invalid bounce token")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(block) + decryptor.finalize()
        if plain[8:] != CHECK:
            raise ValueError("invalid bounce token")
        return int.from_bytes(plain[:8], "big")

    def address(self, delivery_id: int, domain: str) -> str:
        return f"{LOCAL_PREFIX}{self.make(delivery_id)}@{domain}"


@lru_cache(maxsize=8)
def bounce_tokens(secret: str) -> BounceTokens:
    return BounceTokens(secret)


def tokens_in(text: str) -> list[str]:
    """Every bounce token of an address ``bounces+<token>@...`` in ``text``, in order."""
    return [match.group(1).lower() for match in ADDRESS.finditer(text)]
