"""DKIM (RFC 6376) without I/O: names, the DNS record, relaxed canonicalization, and which
headers a signature covers.

campaignd signs with ``c=relaxed/relaxed``: header fields are compared with their names
lower-cased and their white space collapsed, bodies with runs of white space collapsed
and trailing white space and empty lines ignored, so a relay that refolds a header or
trims a line does not break the signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

ALGORITHMS = ("rsa", "ed25519")
SIGNATURE_ALGORITHMS = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}

SIGNED_HEADERS = (
    "from",
    "reply-to",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "x-campaign-id",
)
"""Every header of a campaign message that a signature covers, when the message has it."""

OVERSIGNED = frozenset(
    {
        "from",
        "reply-to",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
"""Headers named once more in ``h=`` than the message has them (RFC 6376 section 8.15):
a header of these names added on the way, even where the message has none, breaks the
signature instead of being shown to the reader as if it had been signed."""

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
LABEL = re.compile(rf"^{_LABEL}$")
SELECTOR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
MAX_DOMAIN = 253
MAX_SELECTOR = 63

_FOLDED = re.compile(rb"\r\n(?=[ \t])")
_FIELD_END = re.compile(rb"\r\n(?![ \t])")
_WHITE_SPACE = re.compile(rb"[ \t]+")
_BODY_WHITE_SPACE = re.compile(rb"[ \t]{2,}|\t")


class DkimProblem(ValueError):
    """A domain, selector, algorithm or key that cannot be used, in words."""


def checked_domain(value: str) -> str:
    """The signing domain lower-cased (IDNA for a non-ASCII one), or DkimProblem."""
    domain = value.strip().rstrip(".").lower()
    if not domain:
        raise DkimProblem("domain: required (the domain in your From addresses)")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise DkimProblem(f"domain: '{value.strip()}' is not a domain name") from None
    labels = domain.split(".")
    if len(domain) > MAX_DOMAIN or not all(LABEL.match(label) for label in labels):
        raise DkimProblem(f"domain: '{value.strip()}' is not a domain name")
    if len(labels) < 2:
        raise DkimProblem(
            f"domain: '{value.strip()}' is a top-level name; give the domain you send from, "
            "like news.example.org"
        )
    return domain


def checked_selector(value: str) -> str:
    """The selector lower-cased, or DkimProblem (letters, digits, hyphens, dots)."""
    selector = value.strip().lower()
    if not selector:
        raise DkimProblem("selector: required (a name for this key, like cmp1 or 2026a)")
    if len(selector) > MAX_SELECTOR or not SELECTOR.match(selector):
        raise DkimProblem(
            f"selector: '{value.strip()}' is not a selector (letters, digits and hyphens, "
            f"at most {MAX_SELECTOR} characters)"
        )
    return selector


def checked_algorithm(value: str) -> str:
    algorithm = value.strip().lower()
    if algorithm not in ALGORITHMS:
        raise DkimProblem(f"algorithm: '{value.strip()}' is not one of {', '.join(ALGORITHMS)}")
    return algorithm


def record_name(selector: str, domain: str) -> str:
    """Where the public key is published: ``{selector}._domainkey.{domain}``."""
    return f"{selector}._domainkey.{domain}"


def record_value(algorithm: str, public_key: str) -> str:
    """The TXT record's text: ``v=DKIM1; k=rsa; p=...`` (``public_key`` in base64)."""
    return f"v=DKIM1; k={algorithm}; p={public_key}"


def record_tags(text: str) -> dict[str, str]:
    """The tags of a DKIM key record (white space removed from values), as a verifier reads
    them; an unreadable record gives what could be read."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, separator, value = part.partition("=")
        if separator:
            tags.setdefault(name.strip().lower(), "".join(value.split()))
    return tags


PUBLISHED = "published"
NOT_PUBLISHED = "not published"
DIFFERS = "differs"
UNKNOWN = "unknown"


def published_status(algorithm: str, public_key: str, records: Sequence[str]) -> str:
    """Whether the TXT records found at the key's name publish this key.

    ``published``: a record with this public key (and this key type); ``differs``: a record
    is there with another key, or more than one record (verifiers then may pick either);
    ``not published``: nothing at that name.
    """
    if not records:
        return NOT_PUBLISHED
    matching = [
        tags
        for tags in map(record_tags, records)
        if tags.get("p") == public_key and tags.get("k", "rsa").lower() == algorithm
    ]
    if matching and len(records) == 1 and matching[0].get("v", "DKIM1") == "DKIM1":
        return PUBLISHED
    return DIFFERS


def signing_domains(domain: str) -> list[str]:
    """Domains whose keys may sign mail from ``domain``: itself, then each parent down to a
    two-label name (``news.acme.example`` -> ``news.acme.example``, ``acme.example``).

    A parent's signature is aligned with the From domain under DMARC's relaxed alignment
    (the default) as long as the parent is the organizational domain or below it.
    """
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[index:]) for index in range(0, max(1, len(labels) - 1))]


# ---------------------------------------------------------------- canonicalization


def split_message(data: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each without its final CRLF, folding kept) and the body."""
    end = data.find(b"\r\n\r\n")
    if end == -1:
        head, body = data.removesuffix(b"\r\n"), b""
    else:
        head, body = data[:end], data[end + 4 :]
    return _FIELD_END.split(head), body


def relaxed_header(field: bytes) -> bytes:
    """One header field in relaxed form, with CRLF (RFC 6376 section 3.4.2)."""
    name, _, value = field.partition(b":")
    value = _WHITE_SPACE.sub(b" ", _FOLDED.sub(b"", value)).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """The body in relaxed form (RFC 6376 section 3.4.4): runs of white space become one
    space, white space at line ends and empty lines at the end go; CRLF line ends assumed."""
    if b"  " in body or b"\t" in body:
        body = _BODY_WHITE_SPACE.sub(b" ", body)
    body = body.replace(b" \r\n", b"\r\n").rstrip(b" \t\r\n")
    return body + b"\r\n" if body else b""


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """What the ``h=`` tag lists and the canonical bytes of those fields, in that order."""

    names: list[str]
    canonical: bytes


def signed_headers(
    fields: Iterable[bytes], signed: Sequence[str] = SIGNED_HEADERS
) -> SignedHeaders:
    """The fields of ``signed`` present in the message, the last instance first (as a verifier
    takes them), each oversigned name once more than present."""
    wanted = _wanted(tuple(signed))
    found: dict[str, list[bytes]] = {}
    for field in fields:
        name = wanted.get(field[: field.find(b":")].rstrip(b" \t").lower())
        if name is not None:
            found.setdefault(name, []).append(field)
    names: list[str] = []
    parts: list[bytes] = []
    for name in signed:
        instances = found.get(name)
        if instances:
            for field in reversed(instances):
                names.append(name)
                parts.append(relaxed_header(field))
        if name in OVERSIGNED:
            names.append(name)
    return SignedHeaders(names, b"".join(parts))


@cache
def _wanted(signed: tuple[str, ...]) -> dict[bytes, str]:
    return {name.encode("ascii"): name for name in signed}
