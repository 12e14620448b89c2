"""Suppression lists as CSV: the rows of an imported file, and the lines of an export.

An import reads the file with ``domain.recipients.csv_rows``, the reader of recipient lists,
so a file means the same everywhere: a header row naming an ``email`` column (any case),
blank rows skipped, rows numbered as in a spreadsheet (the header is row 1), the same
limits on columns and field length. An optional ``reason`` column gives each row its
reason; other columns are ignored. A row with an address that cannot be mailed, or a reason
that is not one of ``REASONS``, is reported with its row number and left out; the file as a
whole is refused (``RecipientListError``) only when it cannot be read at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.recipients import DEFAULT_LIMITS, InvalidRow, RecipientLimits, csv_rows

REASONS = ("manual", "unsubscribed", "bounced", "complained")
EXPORT_COLUMNS = ("email", "reason", "created_at")
"""The header of an export: the names of the suppression list's own columns."""
SHOWN_ADDRESS_CHARS = 320
"""An invalid row's address is reported cut to this length (a field may be far longer)."""


def reasons_text() -> str:
    return ", ".join(REASONS)


def csv_limits(limits: RecipientLimits) -> RecipientLimits:
    """The CSV limits of ``limits``; columns other than ``email`` and ``reason`` are not
    kept, so the limits on a recipient's variables do not apply to them."""
    return replace(limits, vars_keys=limits.csv_columns, vars_bytes=1 << 62)


@dataclass
class SuppressionChunk:
    """Up to a chunk of rows of a file: valid addresses with their reasons, invalid rows."""

    entries: dict[str, str] = field(default_factory=dict)
    """Normalised address -> reason, the first time the address appears in the chunk."""
    repeated: int = 0
    """Rows whose address appeared earlier in the chunk."""
    invalid: list[InvalidRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.entries) + self.repeated + len(self.invalid)


def _shown(email: str) -> str:
    if len(email) <= SHOWN_ADDRESS_CHARS:
        return email
    return email[: SHOWN_ADDRESS_CHARS - 1] + "…"


def row_reason(value: str | None, default: str) -> str | None:
    """The reason a row gives (trimmed, any case), ``default`` when it gives none, or None
    when it names something that is not a reason."""
    given = (value or "").strip().lower()
    if not given:
        return default
    return given if given in REASONS else None


def suppression_chunks(
    lines: Iterable[str],
    *,
    default_reason: str = "manual",
    rows: int = 5_000,
    limits: RecipientLimits = DEFAULT_LIMITS,
) -> Iterator[SuppressionChunk]:
    """The file's rows in chunks of up to ``rows`` rows, addresses normalised.

    Raises ``RecipientListError`` (naming the line) when the file cannot be read: no
    ``email`` column, a quote never closed, a limit broken. ``lines`` keep their line
    endings (a file opened with ``newline=""``).
    """
    if default_reason not in REASONS:
        raise ValueError(f"default_reason must be one of {reasons_text()}")
    chunk = SuppressionChunk()
    for row in csv_rows(lines, csv_limits(limits)):
        reason = row_reason(row.variables.get("reason"), default_reason)
        try:
            address = normalise(row.email)
        except InvalidAddress as error:
            chunk.invalid.append(InvalidRow(row.number, _shown(row.email), str(error)))
        else:
            if reason is None:
                given = row.variables["reason"].strip()[:40]
                problem = f"reason '{given}' is not one of {reasons_text()}"
                chunk.invalid.append(InvalidRow(row.number, _shown(row.email), problem))
            elif address in chunk.entries:
                chunk.repeated += 1
            else:
                chunk.entries[address] = reason
        if chunk.rows >= rows:
            yield chunk
            chunk = SuppressionChunk()
    if chunk.rows:
        yield chunk


def check_rows(lines: Iterable[str], limits: RecipientLimits = DEFAULT_LIMITS) -> int:
    """Read the whole file as ``suppression_chunks`` would, without looking at addresses;
    returns the number of rows. Raises ``RecipientListError`` as it does."""
    count = 0
    for _ in csv_rows(lines, csv_limits(limits)):
        count += 1
    return count


def export_header() -> str:
    return ",".join(EXPORT_COLUMNS) + "\r\n"


def export_lines(rows: Iterable[tuple[str, str, str]]) -> str:
    """CSV lines (``email,reason,created_at``, CRLF as RFC 4180 has it) for ``rows``, the
    time already written as ISO 8601 in UTC.

    Values are written as they are, so an export imports back unchanged.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
