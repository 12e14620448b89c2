"""Signed unsubscribe tokens: they name the organization and the address by themselves.

The signature (HMAC-SHA256 with the instance's ``unsubscribe`` secret) makes a token
impossible to forge or to guess for another address; tokens do not expire, because a
link in an old email must keep working.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha256

from itsdangerous import BadData, URLSafeSerializer

SALT = "campaignd.unsubscribe"
SECRET_NAME = "unsubscribe"


class TokenSigner:
    """Makes and reads tokens with one secret (keeps the serializer for speed)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(
            secret, salt=SALT, signer_kwargs={"digest_method": sha256}
        )

    def make(self, organization_id: int, email: str) -> str:
        token = self._serializer.dumps([organization_id, email])
        assert isinstance(token, str)
        return token

    def read(self, token: str) -> tuple[int, str]:
        """(organization id, address); ValueError for anything forged or malformed."""
        try:
            payload = self._serializer.loads(token)
        except BadData:
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
