"""Contacts as they arrive: an address, its attributes and perhaps a status, checked before
anything is stored.

Attributes are a flat JSON object. A name has letters, digits and ``_``, starts with a
letter or ``_`` and has at most 64 characters (``first_name``, ``plan``). A value is a
string, a number or true/false; a date is an ISO 8601 string (``2026-03-01``,
``2026-03-01T09:00:00Z``), which sorts and compares as text. Nothing nests (no objects, no
lists): what groups contacts is a list, and a flat object is what a CSV column carries and
what a segment filters. ``null`` takes an attribute away (merge) or leaves it out
(replace); it is never stored.

An address that is not valid is a fact about the data: its row is reported (row, address,
reason) and the other rows are stored. Anything else that is wrong (an attribute's name or
value, an unknown field, a status) is a mistake of whoever sends it: the request, or the
file at that line, is refused with a ``ContactError`` naming the row and the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, cast

from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.audience import ContactStatus
from campaignd.domain.recipients import (
    DEFAULT_LIMITS,
    InvalidRow,
    RecipientLimits,
    RecipientListError,
    csv_records,
)

ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NAME_RULE = "letters, digits and _, starting with a letter or _, at most 64 characters"
LARGEST_INTEGER = 2**53 - 1
"""Whole numbers beyond this lose precision in JavaScript and most JSON parsers."""
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
MAX_CONTACTS_PER_REQUEST = 10_000
JSON_LINE_FIELDS = ("email", "attributes", "status")
STATUSES = ", ".join(status.value for status in ContactStatus)

AttributeValue = str | int | float | bool
Attributes = dict[str, AttributeValue | None]
"""Attributes as sent: ``None`` takes one away (merge) or leaves it out (replace)."""


class Mode(StrEnum):
    """How sent attributes meet stored ones: merged into them, or replacing them all."""

    MERGE = "merge"
    REPLACE = "replace"


class ContactFormat(StrEnum):
    """A streamed import: CSV with a header row, or JSON Lines (one contact per line)."""

    CSV = "csv"
    JSONL = "jsonl"


FILE_SUFFIXES = {
    ".csv": ContactFormat.CSV,
    ".jsonl": ContactFormat.JSONL,
    ".ndjson": ContactFormat.JSONL,
}


class ContactError(ValueError):
    """The request or the file is refused as a whole; the message names the row and field."""


class ContactInput(NamedTuple):
    """One contact to store: a normalised address, checked attributes, a status or None
    (new contacts are ``subscribed``, stored ones keep theirs)."""

    email: str
    attributes: Attributes
    status: ContactStatus | None = None


class IncomingRow(NamedTuple):
    """A contact as read, before its address is checked: ``row`` is the JSON item
    (from 1) or the line of a file it ends on."""

    row: int
    email: str
    attributes: Attributes
    status: ContactStatus | None


@dataclass
class ContactBatch:
    """Rows read together: the contacts with a valid address, and the rows without one."""

    contacts: list[ContactInput] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    last_row: int = 0

    def add(self, incoming: IncomingRow) -> None:
        self.last_row = incoming.row
        try:
            address = normalise(incoming.email)
        except InvalidAddress as error:
            self.invalid.append(InvalidRow(incoming.row, incoming.email, str(error)))
            return
        self.contacts.append(ContactInput(address, incoming.attributes, incoming.status))

    def __len__(self) -> int:
        return len(self.contacts) + len(self.invalid)


def _shown(name: object) -> str:
    text = json.dumps(name, ensure_ascii=False) if isinstance(name, str) else repr(name)
    return text if len(text) <= 70 else text[:67] + "..."


def _value_problem(value: object) -> str | None:
    """Why an attribute's value cannot be stored, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > LARGEST_INTEGER:
            return (
                f"whole numbers beyond ±{LARGEST_INTEGER} lose precision in most "
                "applications; send it as a string"
            )
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number (not NaN or Infinity)"
    if isinstance(value, str):
        found = UNSTORABLE.search(value)
        if found is None:
            return None
        if found.group() == "\x00":
            return "must not contain the NUL character (\\u0000)"
        return "must be valid Unicode text (it has a lone surrogate, such as \\ud800)"
    if isinstance(value, Mapping):
        return "must be a string, a number or true/false, not an object: attributes are flat"
    if isinstance(value, list):
        return (
            "must be a string, a number or true/false, not a list: attributes are flat "
            "(group contacts with lists)"
        )
    return "must be a string, a number or true/false"


def checked_attributes(value: object, limits: RecipientLimits = DEFAULT_LIMITS) -> Attributes:
    """``value`` as attributes, or ``ContactError`` naming the attribute that is wrong.

    At most ``limits.vars_keys`` attributes and ``limits.vars_bytes`` bytes as UTF-8 JSON
    (``CAMPAIGND_MAX_VARS_KEYS`` and ``CAMPAIGND_MAX_VARS_BYTES``, the limits of a
    recipient's variables).
    """
    if not isinstance(value, Mapping):
        raise ContactError(
            'attributes: must be an object of names and values, like {"plan": "pro"}'
        )
    if len(value) > limits.vars_keys:
        raise ContactError(
            f"attributes: {len(value)} attributes, more than the limit of {limits.vars_keys} "
            "per contact"
        )
    characters = 2
    for name, item in value.items():
        if not isinstance(name, str) or ATTRIBUTE_NAME.fullmatch(name) is None:
            raise ContactError(f"attributes: {_shown(name)} is not a valid name ({NAME_RULE})")
        problem = _value_problem(item)
        if problem is not None:
            raise ContactError(f"attributes.{name}: {problem}")
        characters += len(name) + 4 + (len(item) + 2 if isinstance(item, str) else 24)
    # a character takes at most 6 bytes in JSON (\u0000): measure exactly only when it matters
    if characters * 6 > limits.vars_bytes:
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if size > limits.vars_bytes:
            raise ContactError(
                f"attributes: {size} bytes as JSON, more than the limit of {limits.vars_bytes} "
                "bytes per contact"
            )
    return dict(value)


def checked_status(value: object) -> ContactStatus | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ContactStatus.__members__.values():
        return ContactStatus(value)
    raise ContactError(f"status: must be one of {STATUSES}, not {_shown(value)}")


def contact_item(item: object, limits: RecipientLimits = DEFAULT_LIMITS) -> IncomingRow:
    """One contact of a JSON Lines file, ``{"email", "attributes", "status"}`` (row 0)."""
    if not isinstance(item, Mapping):
        raise ContactError('must be an object like {"email": "ada@example.com", "attributes": {}}')
    unknown = [name for name in item if name not in JSON_LINE_FIELDS]
    if unknown:
        raise ContactError(
            f"{_shown(unknown[0])} is not a field of a contact (email, attributes, status)"
        )
    email = item.get("email")
    if email is None:
        raise ContactError("email: is required")
    if not isinstance(email, str):
        raise ContactError("email: must be a string")
    attributes = checked_attributes(item.get("attributes") or {}, limits)
    return IncomingRow(0, email, attributes, checked_status(item.get("status")))


def _at_line(number: int, error: ContactError) -> ContactError:
    return ContactError(f"line {number}: {error}")


def json_lines(
    lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS
) -> Iterator[IncomingRow]:
    """The contacts of a JSON Lines file, one object per line; blank lines are skipped."""
    longest = 6 * limits.vars_bytes + 8192
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > longest:
            raise ContactError(f"line {number}: longer than {longest} characters, the limit")
        try:
            item = json.loads(line)
        except RecursionError:
            raise ContactError(f"line {number}: nested too deep") from None
        except ValueError as error:
            raise ContactError(f"line {number}: not valid JSON: {error}") from None
        try:
            incoming = contact_item(item, limits)
        except ContactError as error:
            raise _at_line(number, error) from None
        yield incoming._replace(row=number)


def _csv_header(cells: list[str], limits: RecipientLimits) -> tuple[int, list[tuple[int, str]]]:
    """The email column's index and the attribute columns (index, name) of a header row."""
    stripped = [cell.strip() for cell in cells]
    lowered = [cell.lower() for cell in stripped]
    if "email" not in lowered:
        raise ContactError("line 1: the CSV has no 'email' column in its header row")
    email_index = lowered.index("email")
    names: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, name in enumerate(stripped):
        if index == email_index or not name:
            continue
        if ATTRIBUTE_NAME.fullmatch(name) is None:
            raise ContactError(
                f"line 1: the column {_shown(name)} is not a valid attribute name ({NAME_RULE})"
            )
        if name in seen:
            raise ContactError(f"line 1: the column {_shown(name)} appears twice")
        seen.add(name)
        names.append((index, name))
    if len(names) > limits.vars_keys:
        raise ContactError(
            f"line 1: {len(names)} attribute columns, more than the limit of {limits.vars_keys} "
            "attributes per contact"
        )
    return email_index, names


def csv_contacts(
    lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS
) -> Iterator[IncomingRow]:
    """The contacts of a CSV file: a header row with an ``email`` column (any case); every
    other column is an attribute of that name (as written), its values strings. An empty
    cell sets nothing. Blank rows are skipped.

    The CSV limits of recipient files apply (``CAMPAIGND_MAX_CSV_*``), read by the same
    reader. Lines keep their line endings (a file opened with ``newline=""``).
    """
    try:
        yield from _csv_contacts(csv_records(lines, limits), limits)
    except RecipientListError as error:  # the CSV itself: a quote never closed, too wide...
        raise ContactError(str(error)) from None


def _csv_contacts(
    records: Iterator[tuple[int, list[str]]], limits: RecipientLimits
) -> Iterator[IncomingRow]:
    header: tuple[int, list[tuple[int, str]]] | None = None
    for _, cells in records:
        if "".join(cells).strip():
            header = _csv_header(cells, limits)
            break
    if header is None:
        raise ContactError("the CSV is empty: it needs a header row with an 'email' column")
    email_index, names = header
    width = max([email_index, *(index for index, _ in names)]) + 1
    for number, cells in records:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        if not "".join(cells).strip():
            continue
        values = {name: cells[index] for index, name in names if cells[index]}
        joined = "".join(values.values())
        if "\x00" in joined:
            raise ContactError(f"line {number}: a field holds the NUL character (\\u0000)")
        attributes = cast(Attributes, values)  # str values: no copy
        if (len(joined) + 32 * len(values)) * 6 > limits.vars_bytes:
            try:
                checked_attributes(attributes, limits)
            except ContactError as error:
                raise _at_line(number, error) from None
        yield IncomingRow(number, cells[email_index], attributes, None)


def incoming_rows(
    kind: ContactFormat, lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS
) -> Iterator[IncomingRow]:
    return csv_contacts(lines, limits) if kind is ContactFormat.CSV else json_lines(lines, limits)


def batches(rows: Iterable[IncomingRow], size: int) -> Iterator[ContactBatch]:
    """Rows in batches of ``size``; a file that is not UTF-8 stops with a ``ContactError``."""
    batch = ContactBatch()
    count = 0
    try:
        for incoming in rows:
            batch.add(incoming)
            count += 1
            if count >= size:
                yield batch
                batch, count = ContactBatch(), 0
    except UnicodeDecodeError:
        raise ContactError(f"the file is not UTF-8 text (after line {batch.last_row})") from None
    if count:
        yield batch
