"""Email addresses: the one parser that decides what an address (and a sender mailbox) is.

``normalise`` takes a bare address, ``parse_mailbox`` an address with an optional display
name (``News <news@acme.example>``). Both refuse line breaks and other control characters,
so what is validated here is exactly what ends up in a header or an SMTP command.

email-validator is the authority (syntax only: deliverability checks are off, and
special-use domains such as ``.local``, ``.test`` or ``localhost`` are refused, as it does
by default). A fast path accepts the common shape of address without calling it; it only
accepts what email-validator accepts, with the same normalised result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# a cheap shape (atext before the @, labels of 1-63 characters after it, at least one dot);
# is_plain rules out the rest with string tests
_FAST_SHAPE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUFFIXES = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_ENDINGS = _SPECIAL_USE_SUFFIXES + tuple(f"@{name}" for name in _SPECIAL_USE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]")
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PHRASE_SPECIALS = set('<>@,;:\\"[]()')
MAX_ADDRESS_LENGTH = 254
ONE_ADDRESS = "exactly one address is allowed, not a list"


class InvalidAddress(ValueError):
    """The address cannot be mailed; the message says why."""


@dataclass(frozen=True)
class Mailbox:
    """A parsed ``Name <address>``: the display name (None without one) and the address."""

    address: str
    display_name: str | None = None


def _refuse_control_characters(value: str) -> None:
    match = _CONTROL.search(value)
    if match is None:
        return
    if match.group() in "\r\n\u2028\u2029":
        raise InvalidAddress("must not contain a line break (CR or LF)")
    raise InvalidAddress(f"must not contain the control character U+{ord(match.group()):04X}")


def normalise(address: str) -> str:
    """Trimmed and lower-cased; raises InvalidAddress when it is not a mailable address.

    A line break or control character anywhere (even at either end) is refused.
    """
    stripped = address.strip()
    candidate = stripped.lower()
    if len(stripped) == len(address) and is_plain(candidate):
        return candidate  # the fast path admits no control character
    _refuse_control_characters(address)
    if not candidate:
        raise InvalidAddress("empty address")
    if is_plain(candidate):
        return candidate
    return _validated(candidate)


def is_plain(candidate: str) -> bool:
    """The fast path: a lower-case ASCII dot-atom address on an ordinary domain (at most
    254 characters, 64 before the @, no special-use domain).

    Everything it accepts email-validator accepts unchanged; anything else goes to
    email-validator (some unusual valid addresses too, such as ``a-.b@x.org``).
    """
    return (
        len(candidate) <= MAX_ADDRESS_LENGTH
        and _FAST_SHAPE.fullmatch(candidate) is not None
        and candidate[-1].isalpha()  # every top-level domain ends with a letter
        and not candidate.startswith(".")
        and ".." not in candidate
        and ".@" not in candidate
        and "@-" not in candidate  # no label starts or ends with a dash
        and "-." not in candidate
        and ".-" not in candidate
        and "--" not in candidate  # "xn--" (Punycode) and what IDNA refuses
        and not candidate.endswith(_SPECIAL_USE_ENDINGS)
    )


@lru_cache(maxsize=4096)
def _validated(candidate: str) -> str:
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    return result.normalized.lower()


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def parse_mailbox(value: str, *, special_use_domain: bool = False) -> Mailbox:
    """One mailbox: ``address``, ``<address>``, ``Name <address>`` or ``"Quoted, Name" <address>``.

    A list of addresses, a group, comments, and any line break or control character are
    refused. The address is ``normalise``d. ``special_use_domain`` also allows a domain such
    as ``localhost`` or ``mail.internal.test`` (the operator's ``CAMPAIGND_FROM_ADDRESS``;
    never an address from the API).
    """
    _refuse_control_characters(value)
    text = value.strip()
    if not text:
        raise InvalidAddress("empty address")
    if not text.endswith(">"):
        if "<" in text:
            raise InvalidAddress("an address in angle brackets must come last: Name <a@x.org>")
        if "," in text or ";" in text:
            raise InvalidAddress(ONE_ADDRESS)
        return Mailbox(_address(text, special_use_domain))
    opening = _opening_bracket(text)
    name = _display_name(text[:opening].strip())
    inner = text[opening + 1 : -1]
    if "<" in inner or ">" in inner:
        raise InvalidAddress("exactly one address in angle brackets is allowed")
    return Mailbox(_address(inner, special_use_domain), name or None)


def _opening_bracket(text: str) -> int:
    """The ``<`` of the final ``<address>``, outside any quoted display name."""
    quoted = escaped = False
    opening = -1
    for index, character in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == "<" and not quoted:
            if opening != -1:
                raise InvalidAddress("exactly one address in angle brackets is allowed")
            opening = index
    if quoted:
        raise InvalidAddress('the display name has a quote (") that is never closed')
    if opening == -1:
        raise InvalidAddress("'>' without '<': write Name <a@x.org>")
    return opening


def _display_name(phrase: str) -> str:
    """The display name as written: a quoted string (unescaped) or plain words."""
    if phrase.startswith('"'):
        if len(phrase) < 2 or not phrase.endswith('"'):
            raise InvalidAddress("a quoted display name must be quoted as a whole")
        name, escaped = [], False
        for character in phrase[1:-1]:
            if escaped:
                name.append(character)
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                raise InvalidAddress('a quote (") inside a quoted display name needs a \\')
            else:
                name.append(character)
        return "".join(name)
    bad = sorted(set(phrase) & _PHRASE_SPECIALS)
    if "@" in bad:
        raise InvalidAddress(ONE_ADDRESS)
    if bad:
        shown = " ".join(bad)
        raise InvalidAddress(f"the display name has {shown}: put it in double quotes")
    return " ".join(phrase.split())


def _address(text: str, special_use_domain: bool) -> str:
    text = text.strip()
    if special_use_domain and "@" in text:
        local, domain = text.rsplit("@", 1)
        domain = domain.lower()
        if "." not in domain or _is_special_use(domain):
            if not _HOSTNAME.fullmatch(domain):
                raise InvalidAddress(f"'{domain}' is not a valid domain name")
            # the local part is checked on an ordinary domain; the domain is a hostname
            checked = normalise(f"{local}@example.com")
            return f"{checked.rsplit('@', 1)[0]}@{domain}"
    return normalise(text)


def _is_special_use(domain: str) -> bool:
    """A reserved name email-validator refuses: ``localhost``, ``x.local``, ``x.test``..."""
    return domain in _SPECIAL_USE or domain.endswith(_SPECIAL_USE_SUFFIXES)
