"""Recipient lists from CSV or JSON: normalised, de-duplicated, invalid rows reported."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from campaignd.domain.addresses import InvalidAddress, normalise


class RecipientListError(ValueError):
    """The list as a whole cannot be read (no ``email`` column, not CSV...)."""


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


def from_json(items: Iterable[object]) -> RecipientList:
    """``["a@x.org"]`` or ``[{"email": ..., "vars": {...}}]``; rows are numbered from 1."""
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
            result.add(number, item.get("email"), variables)
        else:
            result.invalid.append(InvalidRow(number, str(item), "expected an address or an object"))
    return result


def from_csv(text: str) -> RecipientList:
    """CSV with a header row holding an ``email`` column; other columns become variables.

    A byte-order mark, quoted fields and blank lines are fine. Rows are numbered as in a
    spreadsheet: the header is row 1.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    result = RecipientList()
    for row in reader:
        if header is None:
            if not "".join(row).strip():
                continue
            header = [cell.strip().lower() for cell in row]
            if "email" not in header:
                raise RecipientListError("the CSV has no 'email' column in its header row")
            email_index = header.index("email")
            continue
        if not "".join(row).strip():
            continue
        number = reader.line_num
        cells = row + [""] * (len(header) - len(row))
        variables = {
            name: value
            for name, value in zip(header, cells, strict=False)
            if name and name != "email"
        }
        result.add(number, cells[email_index], variables)
    if header is None:
        raise RecipientListError("the CSV is empty: it needs a header row with an 'email' column")
    return result
