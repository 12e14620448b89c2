"""DKIM keys and signatures: generate or read a key, seal it for the database, sign messages.

Signing uses ``cryptography`` directly (OpenSSL underneath), not ``dkimpy``: the headers a
campaign message carries are known, so a signature needs one pass over the body for its
hash, the relaxed form of a dozen header fields, and the private-key operation (about
0.3 ms of CPU for RSA-2048 here, 30 µs for Ed25519). A worker makes its signatures in its
signing process (``signing_process``), a child process beside the event loop: the loop
hands a message over and takes back its DKIM-Signature header fields (about 17 µs of its
CPU per message), where signing threads cost it much more than that.

Private keys are stored sealed: AES-256-GCM under a key derived (HKDF-SHA256) from the
instance secret ``dkim``, with the key's organization, domain and selector as associated
data, so a sealed key copied to another row does not open. A worker opens a campaign's
keys once, when it compiles the campaign's builder, and keeps them in memory only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from campaignd.delivery.signing_process import (
    SignerIdentity,
    SigningProcessGone,
    signing_process,
)
from campaignd.domain.dkim import (
    SIGNATURE_ALGORITHMS,
    DkimProblem,
    relaxed_body,
    relaxed_header,
    signed_headers,
    split_message,
)
from campaignd.logs import log_event

if TYPE_CHECKING:
    from campaignd.delivery.messages import Message

logger = logging.getLogger("campaignd.delivery")

SECRET_NAME = "dkim"
"""The instance secret (``store.secrets``) that private keys are sealed with."""

RSA_BITS = 2048
MIN_RSA_BITS = 1024  # RFC 8301: verifiers may ignore shorter keys
MAX_RSA_BITS = 4096  # a longer public key does not fit in the usual TXT record tooling
FOLD_AT = 72

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    algorithm: str  # rsa or ed25519
    private_pem: bytes = field(repr=False)  # PKCS#8, unencrypted: seal it before storing
    public_key: str = ""  # base64, the p= of the DNS record


def generate_key(algorithm: str) -> KeyPair:
    """A new key: RSA-2048 or Ed25519."""
    private: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        if algorithm == "rsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    return _pair(private)


def key_from_pem(pem: bytes, algorithm: str | None = None) -> KeyPair:
    """A key pair from a PEM private key (PKCS#1 or PKCS#8, not password-protected).

    Raises DkimProblem when the file holds no usable key, a key of another algorithm than
    ``algorithm`` (when given), or an RSA key shorter than 1024 or longer than 4096 bits.
    """
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise DkimProblem("key file: the key is protected by a password; remove it") from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimProblem("key file: not a PEM private key (-----BEGIN PRIVATE KEY-----)") from None
    if isinstance(private, rsa.RSAPrivateKey):
        found = "rsa"
        if not MIN_RSA_BITS <= private.key_size <= MAX_RSA_BITS:
            raise DkimProblem(
                f"key file: an RSA key of {private.key_size} bits; DKIM needs "
                f"{MIN_RSA_BITS} to {MAX_RSA_BITS} ({RSA_BITS} is usual)"
            )
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        found = "ed25519"
    else:
        raise DkimProblem("key file: DKIM keys are RSA or Ed25519; this is another kind of key")
    if algorithm is not None and algorithm != found:
        raise DkimProblem(f"key file: holds an {found} key, not {algorithm}")
    return _pair(private)


def _pair(private: PrivateKey) -> KeyPair:
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if isinstance(private, rsa.RSAPrivateKey):
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return KeyPair("rsa", pem, base64.b64encode(public).decode("ascii"))
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return KeyPair("ed25519", pem, base64.b64encode(raw).decode("ascii"))


# ---------------------------------------------------------------- sealing


def _sealing_key(secret: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"campaignd dkim private keys"
    ).derive(secret.encode("utf-8"))
    return AESGCM(derived)


def seal_context(organization_id: int, domain: str, selector: str) -> bytes:
    """The associated data of a sealed key: the row it belongs to."""
    return f"{organization_id}:{domain}:{selector}".encode()


def seal(private_pem: bytes, secret: str, context: bytes) -> str:
    """``private_pem`` encrypted for the database (base64 of nonce and ciphertext)."""
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + _sealing_key(secret).encrypt(nonce, private_pem, context)
    ).decode("ascii")


def unseal(sealed: str, secret: str, context: bytes) -> bytes:
    """The PEM sealed by ``seal``; raises DkimProblem when it does not open (another
    instance secret, another row, altered)."""
    try:
        raw = base64.b64decode(sealed)
        return _sealing_key(secret).decrypt(raw[:12], raw[12:], context)
    except (InvalidTag, ValueError):
        raise DkimProblem(
            "the stored private key does not open with this instance's secret"
        ) from None


# ---------------------------------------------------------------- signing


@dataclass(frozen=True)
class SigningKey:
    """One key ready to sign: opened once per campaign, kept in memory only."""

    domain: str
    selector: str
    algorithm: str
    private: PrivateKey = field(repr=False)

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> SigningKey:
        pair = key_from_pem(pem)
        private = serialization.load_pem_private_key(pair.private_pem, password=None)
        assert isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
        return cls(domain, selector, pair.algorithm, private)

    def sign(self, data: bytes) -> bytes:
        """The signature of the canonical header bytes (RFC 6376 / RFC 8463)."""
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private.sign(hashlib.sha256(data).digest())


def _fold(text: str, at: str) -> str:
    """``text`` folded (CRLF SP) after ``at`` characters so that lines stay near 76."""
    lines: list[str] = []
    line = ""
    for piece in text.split(at):
        candidate = f"{line}{at}{piece}" if line else piece
        if line and len(candidate) > FOLD_AT:
            lines.append(line + at)
            line = piece
        else:
            line = candidate
    lines.append(line)
    return "\r\n ".join(lines)


def _folded_signature(signature: bytes) -> bytes:
    text = base64.b64encode(signature)
    return b"\r\n ".join(text[index : index + FOLD_AT] for index in range(0, len(text), FOLD_AT))


@dataclass(frozen=True, slots=True)
class Prepared:
    """What is left to do for a message once its canonical forms are made: one private-key
    operation per key."""

    headers: list[bytes]  # each key's DKIM-Signature header up to ``b=``
    to_sign: list[bytes]  # each key's canonical bytes


class Signer:
    """Signs every message of a campaign with each of its domain's keys (two keys of two
    algorithms: two DKIM-Signature headers, RFC 8463's dual signature)."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise ValueError("a signer needs at least one key")
        self.keys = list(keys)
        self._prefixes: dict[tuple[str, ...], list[str]] = {}
        self._identity: SignerIdentity | None = None

    @property
    def domain(self) -> str:
        return self.keys[0].domain

    def _prefix(self, names: list[str]) -> list[str]:
        """Each key's header up to ``t=``, with ``h=``; the same for every message of a
        campaign (its header names do not change), so made once."""
        key = tuple(names)
        prefixes = self._prefixes.get(key)
        if prefixes is None:
            signed = _fold("h=" + ":".join(names), ":")
            prefixes = [
                f"DKIM-Signature: v=1; a={SIGNATURE_ALGORITHMS[signing.algorithm]}; "
                f"c=relaxed/relaxed;\r\n d={signing.domain}; s={signing.selector};\r\n "
                f"{signed};\r\n"
                for signing in self.keys
            ]
            self._prefixes[key] = prefixes
        return prefixes

    def prepare(self, data: bytes, *, now: float | None = None) -> Prepared:
        """The canonical forms of a built message (a few tens of µs)."""
        fields, body = split_message(data)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        signed = signed_headers(fields)
        stamp = int(time.time() if now is None else now)
        headers: list[bytes] = []
        to_sign: list[bytes] = []
        for prefix in self._prefix(signed.names):
            header = f"{prefix} t={stamp}; bh={body_hash};\r\n b=".encode("ascii")
            headers.append(header)
            to_sign.append(signed.canonical + relaxed_header(header)[:-2])
        return Prepared(headers, to_sign)

    def signatures(self, prepared: Prepared) -> list[bytes]:
        """The private-key operations."""
        return [key.sign(data) for key, data in zip(self.keys, prepared.to_sign, strict=True)]

    @staticmethod
    def headers(prepared: Prepared, signatures: list[bytes]) -> bytes:
        """The DKIM-Signature header fields, to go before the message's own."""
        return b"".join(
            header + _folded_signature(signature) + b"\r\n"
            for header, signature in zip(prepared.headers, signatures, strict=True)
        )

    def signature_headers(self, data: bytes, *, now: float | None = None) -> bytes:
        """The DKIM-Signature header fields of ``data``, made on this thread."""
        prepared = self.prepare(data, now=now)
        return self.headers(prepared, self.signatures(prepared))

    def sign_now(self, data: bytes) -> bytes:
        """``data`` with its DKIM-Signature headers, on this thread."""
        return self.signature_headers(data) + data

    @property
    def identity(self) -> SignerIdentity:
        """What the signing process needs to make this signer's signatures: each key's
        domain, selector and PKCS#8 PEM (in memory only), under a name derived from them."""
        if self._identity is None:
            keys = tuple(
                (
                    key.domain,
                    key.selector,
                    key.private.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ),
                )
                for key in self.keys
            )
            digest = hashlib.sha256()
            for domain, selector, pem in keys:
                digest.update(f"{domain}\0{selector}\0".encode() + pem + b"\0")
            self._identity = SignerIdentity(digest.digest(), keys)
        return self._identity

    async def sign(self, message: Message) -> Message:
        """``message`` signed. The worker's signing process makes the signatures (the
        canonical forms and the private-key operations): the event loop only hands the
        message over and takes the header fields back, and the messages signed during one
        turn of the loop go over in one write."""
        stamp = int(time.time())
        try:
            signing = signing_process(asyncio.get_running_loop()).sign(
                self.identity, message.data, stamp
            )
        except SigningProcessGone as error:
            headers = self._sign_here(message.data, stamp, error)
        else:
            try:
                headers = await signing
            except SigningProcessGone as error:
                headers = self._sign_here(message.data, stamp, error)
        return replace(message, data=headers + message.data)

    def _sign_here(self, data: bytes, stamp: int, reason: SigningProcessGone) -> bytes:
        """The signature made on the event loop: the signing process is not there (it
        could not start or it stopped; another is tried a few seconds later)."""
        if reason.fresh:
            log_event(
                logger,
                "DKIM signing process unavailable: signing on the event loop",
                level=logging.WARNING,
                domain=self.domain,
                error=str(reason),
            )
        return self.signature_headers(data, now=stamp)


def signer_of(keys: Sequence[tuple[str, str, bytes]]) -> Signer:
    """A signer from (domain, selector, PEM) triples, as the signing process receives them."""
    return Signer([SigningKey.from_pem(domain, selector, pem) for domain, selector, pem in keys])
