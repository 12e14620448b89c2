"""Webhook signing secrets at rest: sealed with AES-256-GCM under a key derived
(HKDF-SHA256) from the instance secret ``webhooks``, with the endpoint's organization and
id as associated data, so a sealed secret copied to another row does not open."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_NAME = "webhooks"
"""The instance secret (``store.secrets``) that signing secrets are sealed with."""


class SecretUnreadable(RuntimeError):
    """A stored signing secret does not open with this instance's secret."""


def _sealing_key(instance_secret: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"campaignd webhook secrets"
    ).derive(instance_secret.encode("utf-8"))
    return AESGCM(derived)


def seal_context(organization_id: int, endpoint_id: int) -> bytes:
    return f"webhook:{organization_id}:{endpoint_id}".encode()


def seal(secret: str, instance_secret: str, context: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _sealing_key(instance_secret).encrypt(nonce, secret.encode("utf-8"), context)
    return base64.b64encode(nonce + sealed).decode("ascii")


def unseal(sealed: str, instance_secret: str, context: bytes) -> str:
    try:
        raw = base64.b64decode(sealed)
        return _sealing_key(instance_secret).decrypt(raw[:12], raw[12:], context).decode()
    except (InvalidTag, ValueError):
        raise SecretUnreadable(
            "the stored signing secret does not open with this instance's secret"
        ) from None
