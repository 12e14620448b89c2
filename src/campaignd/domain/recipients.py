"""Recipient lists from CSV or JSON: normalised, de-duplicated, invalid rows reported.

One CSV reader (``csv_rows``) serves the API, the admin UI and the CLI, so a file means the
same everywhere. Limits (``RecipientLimits``) keep what is stored readable: a recipient's
variables may nest only so deep, hold only so many keys and bytes, and a CSV only so many
columns and characters per field. A list that breaks a limit is refused as a whole
(``RecipientListError`` naming the row and the limit); nothing of it is stored.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from campaignd.domain.addresses import InvalidAddress, normalise


class RecipientListError(ValueError):
    """The list as a whole cannot be read (no ``email`` column, not CSV, a limit broken...)."""


@dataclass(frozen=True)
class RecipientLimits:
    """What one recipient's variables, and a CSV, may hold (defaults of the settings)."""

    vars_depth: int = 10  # CAMPAIGND_MAX_VARS_DEPTH: levels of objects and lists
    vars_keys: int = 100  # CAMPAIGND_MAX_VARS_KEYS: keys of the vars object itself
    vars_bytes: int = 64 * 1024  # CAMPAIGND_MAX_VARS_BYTES: the vars as UTF-8 JSON
    csv_columns: int = 100  # CAMPAIGND_MAX_CSV_COLUMNS
    csv_field_chars: int = 64 * 1024  # CAMPAIGND_MAX_CSV_FIELD_CHARS


DEFAULT_LIMITS = RecipientLimits()


@dataclass(frozen=True)
class InvalidRow:
    row: int
    email: str
    reason: str


@dataclass
class RecipientList:
    """Valid recipients (address -> variables), in first-seen order."""

    recipients: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)

    def add(self, row: int, email: object, variables: Mapping[str, Any] | None) -> None:
        raw = "" if email is None else str(email)
        try:
            address = normalise(raw)
        except InvalidAddress as error:
            self.invalid.append(InvalidRow(row=row, email=raw, reason=str(error)))
            return
        if address in self.recipients:
            self.duplicates += 1
            return
        self.recipients[address] = dict(variables or {})


def vars_problem(variables: Mapping[str, Any], limits: RecipientLimits) -> str | None:
    """Why these variables break a limit, or None. Walks without recursion, so any depth is
    measured safely, and stops as soon as the depth limit is passed."""
    if len(variables) > limits.vars_keys:
        return f"{len(variables)} keys, more than the limit of {limits.vars_keys} per recipient"
    characters = 0
    stack: list[tuple[Any, int]] = [(variables, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limits.vars_depth:
            return f"nested more than {limits.vars_depth} levels deep, the limit per recipient"
        children = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, child in children:
            characters += len(key) + 4 if isinstance(key, str) else 4
            if isinstance(child, Mapping | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str):
                characters += len(child) + 2
            else:
                characters += 24
    # a character takes at most 6 bytes in JSON (\u0000); measure exactly only when it matters
    if characters * 6 > limits.vars_bytes:
        size = len(json.dumps(variables, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > limits.vars_bytes:
            return (
                f"{size} bytes as JSON, more than the limit of {limits.vars_bytes} bytes "
                "per recipient"
            )
    return None


def from_json(items: Iterable[object], limits: RecipientLimits = DEFAULT_LIMITS) -> RecipientList:
    """``["a@x.org"]`` or ``[{"email": ..., "vars": {...}}]``; rows are numbered from 1.

    Variables beyond ``limits`` refuse the whole list, naming ``recipients[index].vars``.
    """
    result = RecipientList()
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            result.add(number, item, None)
        elif isinstance(item, Mapping):
            variables = item.get("vars") or {}
            if not isinstance(variables, Mapping):
                result.invalid.append(
                    InvalidRow(number, str(item.get("email")), "vars must be an object")
                )
                continue
            problem = vars_problem(variables, limits)
            if problem is not None:
                raise RecipientListError(f"recipients[{number - 1}].vars: {problem}")
            result.add(number, item.get("email"), variables)
        else:
            result.invalid.append(InvalidRow(number, str(item), "expected an address or an object"))
    return result


class CsvRow(NamedTuple):
    number: int  # the physical line the row ends on; the header is line 1 of a plain file
    email: str
    variables: dict[str, str]


END_OF_INPUT = "\U0010fffd campaignd: end of input \U0010fffd"
"""A last line added after the input: read as its own record, the file ended cleanly; read
as the end of a field, a quote was still open when the input ended."""


def _unterminated(line: int) -> RecipientListError:
    return RecipientListError(
        f'line {line}: a quoted field opens here and is never closed (a closing " is '
        "missing), so the rest of the file would be one field"
    )


def _too_wide(line: int, columns: int, limits: RecipientLimits) -> RecipientListError:
    return RecipientListError(
        f"line {line}: {columns} columns; at most {limits.csv_columns} are allowed"
    )


def _too_long(line: int, limits: RecipientLimits) -> RecipientListError:
    return RecipientListError(
        f"line {line}: a field is longer than {limits.csv_field_chars} characters, the limit "
        '(if it is not meant to be one long field, a closing " is missing)'
    )


def _records(lines: Iterable[str], limits: RecipientLimits) -> Iterator[tuple[int, list[str]]]:
    """(line the record ends on, cells) for each record, with the CSV limits enforced."""
    reader = csv.reader(itertools.chain(lines, (END_OF_INPUT,)))
    if csv.field_size_limit() < limits.csv_field_chars:
        csv.field_size_limit(limits.csv_field_chars)  # ours is checked below, per field
    start = 1  # the line the next record starts on
    try:
        for cells in reader:
            if cells and cells[-1].endswith(END_OF_INPUT):
                if cells != [END_OF_INPUT]:
                    raise _unterminated(start)
                return
            if len(cells) > limits.csv_columns:
                raise _too_wide(start, len(cells), limits)
            if cells and max(map(len, cells)) > limits.csv_field_chars:
                raise _too_long(start, limits)
            yield reader.line_num, cells
            start = reader.line_num + 1
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise _too_long(start, limits) from None
        raise RecipientListError(f"line {start}: {error}") from None


def csv_records(
    lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, list[str]]]:
    """(line the record ends on, cells) of each record, with the CSV limits enforced: the
    reader under ``csv_rows``, for files whose columns mean something else (contacts)."""
    return _records(lines, limits)


def csv_rows(lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS) -> Iterator[CsvRow]:
    """The rows of a recipient CSV: a header row naming an ``email`` column (any case), then
    one recipient per row; other columns become variables. Blank rows are skipped.

    Raises ``RecipientListError`` (naming the line) for a file without an ``email`` column,
    an unterminated quote, or one beyond ``limits``. Lines keep their line endings
    (``io.StringIO(text, newline="")`` or a file opened with ``newline=""``).
    """
    records = _records(lines, limits)
    header: list[str] | None = None
    for _, cells in records:
        if "".join(cells).strip():
            header = [cell.strip().lower() for cell in cells]
            break
    if header is None:
        raise RecipientListError("the CSV is empty: it needs a header row with an 'email' column")
    if "email" not in header:
        raise RecipientListError("the CSV has no 'email' column in its header row")
    email_index = header.index("email")
    names = [(index, name) for index, name in enumerate(header) if name and name != "email"]
    if len(names) > limits.vars_keys:
        raise RecipientListError(
            f"the header has {len(names)} variable columns, more than the limit of "
            f"{limits.vars_keys} variables per recipient"
        )
    width = len(header)
    overhead = sum(len(name) + 6 for _, name in names) + 2
    for number, cells in records:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        email = cells[email_index]
        if not email.strip() and not "".join(cells).strip():
            continue
        variables = {name: cells[index] for index, name in names}
        # a character takes at most 6 bytes in JSON: measure exactly only when it could matter
        if (sum(map(len, cells)) + overhead) * 6 > limits.vars_bytes:
            problem = vars_problem(variables, limits)
            if problem is not None:
                raise RecipientListError(f"line {number}: the row's variables: {problem}")
        yield CsvRow(number, email, variables)


def from_csv(text: str, limits: RecipientLimits = DEFAULT_LIMITS) -> RecipientList:
    """CSV with a header row holding an ``email`` column; other columns become variables.

    A byte-order mark, quoted fields and blank lines are fine. Rows are numbered as in a
    spreadsheet: the header is row 1.
    """
    text = text.removeprefix("\ufeff")
    result = RecipientList()
    for row in csv_rows(io.StringIO(text, newline=""), limits):
        result.add(row.number, row.email, row.variables)
    return result
