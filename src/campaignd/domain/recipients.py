"""Recipient lists from CSV or JSON: normalised, de-duplicated, invalid rows reported.

One CSV reader (``csv_rows``) serves the API, the admin UI and the CLI, so a file means the
same everywhere. Its header decides how the file is read: the separator (``,``, or ``;`` or
a tab when the header line shows it, see ``header_delimiter``) and the columns, matched
trimmed and in any case; a header without an ``email`` column is refused in words that say
what the header holds and what to rename.

Limits (``RecipientLimits``) keep what is stored readable: a recipient's variables may nest
only so deep, hold only so many keys and bytes, and a CSV only so many columns and
characters per field. A list that breaks a limit is refused as a whole
(``RecipientListError`` naming the row and the limit); nothing of it is stored.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.nul_characters import NUL, NUL_PROBLEM


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

NUL_IN_A_FIELD = "a field holds the NUL character (\\u0000)"


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
            if isinstance(key, str):
                if NUL in key:
                    return f"{key!r}: a name {NUL_PROBLEM}"
                characters += len(key) + 4
            else:
                characters += 4
            if isinstance(child, Mapping | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str):
                if NUL in child:
                    return f"{key}: {NUL_PROBLEM}"
                characters += len(child) + 2
            elif isinstance(child, float) and not math.isfinite(child):
                return f"{key}: must be a finite number (not NaN or Infinity)"
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


def _records(
    lines: Iterable[str], limits: RecipientLimits, delimiter: str = ",", skipped: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """(line the record ends on, cells) for each record, with the CSV limits enforced.

    ``skipped`` blank lines came before ``lines``: line numbers count them too."""
    reader = csv.reader(itertools.chain(lines, (END_OF_INPUT,)), delimiter=delimiter)
    if csv.field_size_limit() < limits.csv_field_chars:
        csv.field_size_limit(limits.csv_field_chars)  # ours is checked below, per field
    start = skipped + 1  # the line the next record starts on
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
            yield skipped + reader.line_num, cells
            start = skipped + reader.line_num + 1
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise _too_long(start, limits) from None
        raise RecipientListError(f"line {start}: {error}") from None


DELIMITERS = (",", ";", "\t")
"""The separators a recipient CSV may use; on a tie the earlier one wins."""

DELIMITER_NAMES = {",": '","', ";": '";"', "\t": "tabs"}


def header_delimiter(line: str) -> str:
    """The separator of a file whose header line is ``line``: the one of ``DELIMITERS`` found
    most often outside quotes, ``,`` on a tie or when there is none.

    Spreadsheets set to a language that writes decimal commas save CSV with ``;``; some
    tools save tabs. Only the header decides, never data rows: a comma file whose values
    hold ``;`` stays a comma file, and every row of one file is read the same way."""
    outside = line.split('"')[0::2]  # a doubled "" inside quotes leaves an empty part
    counts = [sum(part.count(delimiter) for part in outside) for delimiter in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))]


EMAIL_LIKE = {"email", "mail", "emailaddress", "mailaddress", "emailaddr", "emails"}
"""Column names (lower-cased, without spaces, ``-``, ``_`` and ``.``) that surely hold
addresses: ``Email Address``, ``E-Mail``, ``e_mail``, ``Mail``..."""

_NOT_IN_A_NAME = re.compile(r"[\s._-]+")

NAMES_SHOWN = 12
NAME_CHARS_SHOWN = 40


@dataclass(frozen=True)
class CsvHeader:
    """The header of a recipient CSV as read: the separator and the column names."""

    delimiter: str
    names: tuple[str, ...]
    """Trimmed and lower-cased, as variables are named; an empty name is a column ignored."""
    email_index: int


def _cleaned(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip()


def _shown(name: str) -> str:
    return name if len(name) <= NAME_CHARS_SHOWN else name[: NAME_CHARS_SHOWN - 1] + "…"


def _header_text(cells: list[str], delimiter: str) -> str:
    """The header as the user would recognise it: the names, long ones and many cut."""
    names = [_shown(cell) for cell in cells[:NAMES_SHOWN]]
    if len(cells) > NAMES_SHOWN:
        names.append(f"… {len(cells) - NAMES_SHOWN} more")
    separator = {",": ", ", ";": "; ", "\t": " | "}[delimiter]
    text = f'"{separator.join(names)}"'
    return text if delimiter == "," else f"{text} (separated by {DELIMITER_NAMES[delimiter]})"


def _quoted(names: list[str]) -> str:
    listed = [f'"{_shown(name)}"' for name in names]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]


def _no_email_column(cells: list[str], delimiter: str) -> RecipientListError:
    """Say what the header holds and what to change: rename a column named like an address
    column, use one separator throughout, or else name the address column ``email``."""
    message = f'no "email" column: the header is {_header_text(cells, delimiter)}; '
    likely = [cell for cell in cells if _NOT_IN_A_NAME.sub("", cell.lower()) in EMAIL_LIKE]
    stray = [other for other in DELIMITERS if other != delimiter and any(other in c for c in cells)]
    if len(likely) == 1:
        message += f'rename {_quoted(likely)} to "email"'
    elif likely:
        message += f'rename the one of {_quoted(likely)} that holds the addresses to "email"'
    elif stray:
        message += (
            f"it is read as separated by {DELIMITER_NAMES[delimiter]} (the separator its line "
            f"uses most) but also holds {' and '.join(DELIMITER_NAMES[s] for s in stray)}: "
            'separate every column with the same one, and name the address column "email"'
        )
    else:
        message += 'name the column that holds the addresses "email"'
    return RecipientListError(message)


def _repeated_names(names: list[str]) -> RecipientListError | None:
    columns: dict[str, list[str]] = {}
    for number, name in enumerate(names, start=1):
        if name:
            columns.setdefault(name, []).append(str(number))
    repeated = [
        f'"{_shown(name)}" is columns {", ".join(numbers[:-1])} and {numbers[-1]}'
        for name, numbers in columns.items()
        if len(numbers) > 1
    ]
    if not repeated:
        return None
    what = "a column name" if len(repeated) == 1 else "column names"
    return RecipientListError(
        f"the header repeats {what}: {', '.join(repeated)}; give each column its own name "
        "(names are compared trimmed and in any case)"
    )


def _parsed_header(cells: list[str], delimiter: str, limits: RecipientLimits) -> CsvHeader:
    cleaned = [_cleaned(cell) for cell in cells]
    names = [cell.lower() for cell in cleaned]
    repeated = _repeated_names(names)
    if repeated is not None:
        raise repeated
    if "email" not in names:
        raise _no_email_column(cleaned, delimiter)
    variables = sum(1 for name in names if name and name != "email")
    if variables > limits.vars_keys:
        raise RecipientListError(
            f"the header has {variables} variable columns, more than the limit of "
            f"{limits.vars_keys} variables per recipient"
        )
    return CsvHeader(delimiter=delimiter, names=tuple(names), email_index=names.index("email"))


def _records_by_header(
    lines: Iterable[str], limits: RecipientLimits
) -> tuple[str, Iterator[tuple[int, list[str]]]]:
    """The separator the first line that is not blank shows, and every record read with it."""
    remaining = iter(lines)
    skipped = 0
    for line in remaining:
        if _cleaned(line):
            break
        skipped += 1
    else:
        line = ""
    delimiter = header_delimiter(line)
    return delimiter, _records(itertools.chain((line,), remaining), limits, delimiter, skipped)


def csv_records(
    lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, list[str]]]:
    """(line the record ends on, cells) of each record, read with the separator the header
    line shows and the CSV limits enforced: the reader under ``csv_rows``, for files whose
    columns mean something else (contacts)."""
    return _records_by_header(lines, limits)[1]


def _header_and_records(
    lines: Iterable[str], limits: RecipientLimits
) -> tuple[CsvHeader, Iterator[tuple[int, list[str]]]]:
    """The header (its separator decided from its own line) and the records after it, all
    read with that separator."""
    delimiter, records = _records_by_header(lines, limits)
    for number, cells in records:
        if "".join(cells).strip(" \t\r\n\ufeff"):
            if NUL in "".join(cells):
                raise RecipientListError(f"line {number}: {NUL_IN_A_FIELD}")
            return _parsed_header(cells, delimiter, limits), records
    raise RecipientListError('the CSV is empty: it needs a header row with an "email" column')


def csv_header(lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS) -> CsvHeader:
    """The header of a recipient CSV, checked as ``csv_rows`` checks it; reads no further."""
    return _header_and_records(lines, limits)[0]


def csv_rows(lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS) -> Iterator[CsvRow]:
    """The rows of a recipient CSV: a header row naming an ``email`` column, then one
    recipient per row; other columns become variables. Blank rows are skipped.

    Column names are trimmed (a byte-order mark too) and lower-cased: ``Email`` and
    `` email `` name the ``email`` column, ``First_Name`` the variable ``first_name``. The
    header line decides the separator (``header_delimiter``) for every row of the file, so
    a caller that splits the rows into chunks reads them all alike.

    Raises ``RecipientListError`` for a header without an ``email`` column (saying what it
    holds and what to rename) or with a name twice, an unterminated quote (naming the line),
    or a file beyond ``limits``. Lines keep their line endings (``io.StringIO(text,
    newline="")`` or a file opened with ``newline=""``).
    """
    header, records = _header_and_records(lines, limits)
    email_index = header.email_index
    names = [(index, name) for index, name in enumerate(header.names) if name and name != "email"]
    width = len(header.names)
    overhead = sum(len(name) + 6 for _, name in names) + 2
    for number, cells in records:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        email = cells[email_index]
        if not email.strip() and not "".join(cells).strip():
            continue
        if NUL in "".join(cells):
            raise RecipientListError(f"line {number}: {NUL_IN_A_FIELD}")
        variables = {name: cells[index] for index, name in names}
        # a character takes at most 6 bytes in JSON: measure exactly only when it could matter
        if (sum(map(len, cells)) + overhead) * 6 > limits.vars_bytes:
            problem = vars_problem(variables, limits)
            if problem is not None:
                raise RecipientListError(f"line {number}: the row's variables: {problem}")
        yield CsvRow(number, email, variables)


def from_csv(text: str, limits: RecipientLimits = DEFAULT_LIMITS) -> RecipientList:
    """CSV with a header row holding an ``email`` column; other columns become variables.

    Separated by ``,``, or by ``;`` or tabs when the header line shows it. A byte-order mark,
    quoted fields and blank lines are fine. Rows are numbered as in a
    spreadsheet: the header is row 1.
    """
    text = text.removeprefix("\ufeff")
    result = RecipientList()
    for row in csv_rows(io.StringIO(text, newline=""), limits):
        result.add(row.number, row.email, row.variables)
    return result
