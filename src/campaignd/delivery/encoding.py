"""RFC 5322 / 2045 / 2047 pieces written straight to bytes: headers, encoded words, bodies.

The message builder runs once per recipient, so these avoid ``email.message`` objects and
use the C-implemented ``binascii`` codecs.
"""

from __future__ import annotations

import binascii
from email.utils import formataddr

from campaignd.domain.addresses import InvalidAddress, parse_mailbox

ENCODED_WORD_BYTES = 45  # 45 bytes -> 60 base64 characters; with =?utf-8?b?...?= 72 < 75
FOLD_AT = 76


def _is_plain(value: str) -> bool:
    return value.isascii() and value.isprintable()


def encoded_words(value: str, first_room: int = 75) -> str:
    """``value`` as RFC 2047 base64 encoded words, folded, never splitting a character.

    ``first_room`` is the room left on the first line (after ``Name: ``).
    """
    words: list[str] = []
    limit = _bytes_for(first_room)
    chunk = bytearray()
    for character in value:
        encoded = character.encode("utf-8")
        if chunk and len(chunk) + len(encoded) > limit:
            words.append(_encoded_word(bytes(chunk)))
            chunk.clear()
            limit = ENCODED_WORD_BYTES
        chunk += encoded
    if chunk or not words:
        words.append(_encoded_word(bytes(chunk)))
    return "\r\n ".join(words)


def _bytes_for(room: int) -> int:
    """How many bytes fit in an encoded word of at most ``room`` characters (>= 3)."""
    return max(3, min(ENCODED_WORD_BYTES, (room - len("=?utf-8?b??=")) // 4 * 3))


def _encoded_word(data: bytes) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="


def _fold(value: str, room: int) -> str:
    """Fold a plain header value at spaces so that lines stay near 78 characters."""
    if len(value) <= room:
        return value
    lines: list[str] = []
    line = ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > room:
            lines.append(line)
            line = word
            room = FOLD_AT
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def unstructured(name: str, value: str) -> str:
    """A header line (without CRLF) for free text such as Subject: encoded when needed."""
    value = " ".join(value.split())
    if _is_plain(value):
        return f"{name}: {_fold(value, FOLD_AT - len(name) - 2)}"
    return f"{name}: {encoded_words(value, FOLD_AT - len(name) - 2)}"


def mailbox(value: str) -> tuple[str, str]:
    """``'Name <a@x.org>'`` or ``'a@x.org'`` -> (header form, bare address).

    Parsed by ``domain.addresses.parse_mailbox``, the parser that validated the campaign's
    address, so the header carries exactly the display name and address that were checked
    (a special-use domain such as ``localhost`` is allowed here for the configured default
    sender). The header form encodes a non-ASCII display name; a non-ASCII domain becomes
    IDNA. Raises ValueError for anything that is not one valid mailbox.
    """
    try:
        parsed = parse_mailbox(value, special_use_domain=True)
    except InvalidAddress as error:
        raise ValueError(f"not an address: {value!r} ({error})") from None
    name, address = parsed.display_name, parsed.address
    local, domain = address.rsplit("@", 1)
    if not domain.isascii():
        address = f"{local}@{domain.encode('idna').decode('ascii')}"
    if not name:
        return address, address
    if _is_plain(name):
        return formataddr((name, address)), address
    return f"{encoded_words(name, FOLD_AT - len('Reply-To: '))} <{address}>", address


def normalised_lines(text: str) -> str:
    """Every line ending as CRLF, and a final CRLF (it also tells the QP codec to use CRLF)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text.replace("\n", "\r\n")


def quoted_printable(text: str) -> bytes:
    """A body as quoted-printable with CRLF line ends and soft breaks at 76 characters."""
    return binascii.b2a_qp(normalised_lines(text).encode("utf-8"), istext=True)
