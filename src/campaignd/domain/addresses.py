"""Email address normalisation and validation."""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

_PLAIN_ADDRESS = re.compile(r"^[a-z0-9._%+\-']{1,64}@[a-z0-9\-]{1,63}(\.[a-z0-9\-]{1,63})+$")


class InvalidAddress(ValueError):
    """The address cannot be mailed; the message says why."""


def normalise(address: str) -> str:
    """Trimmed and lower-cased; raises InvalidAddress when it is not a mailable address."""
    candidate = address.strip().lower()
    if not candidate:
        raise InvalidAddress("empty address")
    if _PLAIN_ADDRESS.match(candidate) and ".." not in candidate and not candidate.startswith("."):
        return candidate
    return _validated(candidate)


@lru_cache(maxsize=4096)
def _validated(candidate: str) -> str:
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    return result.normalized.lower()


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1]
