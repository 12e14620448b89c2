"""Recipient CSV files read in chunks, so a file of millions of rows never sits in memory.

Each chunk is a ``RecipientList`` (normalised, de-duplicated within the chunk, invalid rows
reported with their spreadsheet row number); the database drops addresses a campaign already
holds, so duplicates across chunks are counted as duplicates too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from campaignd.actions.campaigns import ImportReport
from campaignd.actions.text_files import csv_text
from campaignd.domain.recipients import (
    DEFAULT_LIMITS,
    CsvHeader,
    InvalidRow,
    RecipientLimits,
    RecipientList,
    RecipientListError,
    csv_header,
    csv_rows,
)

CHUNK_ROWS = 50_000
INVALID_SHOWN = 20


def check_header(path: Path, limits: RecipientLimits = DEFAULT_LIMITS) -> CsvHeader:
    """The file's header (its separator and columns); ``RecipientListError`` unless it names
    an ``email`` column, in the words the API and the admin UI use."""
    with path.open("rb") as raw, csv_text(raw) as text:
        try:
            return csv_header(text, limits)
        except UnicodeDecodeError:
            raise RecipientListError("the file is not UTF-8 text") from None


def csv_chunks(
    path: Path,
    *,
    rows: int = CHUNK_ROWS,
    on_read: Callable[[int], None] = lambda _: None,
    limits: RecipientLimits = DEFAULT_LIMITS,
) -> Iterator[RecipientList]:
    """Recipient lists of up to ``rows`` rows each; ``on_read`` gets the bytes read.

    The rows come from ``domain.recipients.csv_rows``, the reader the API and the admin UI
    use, so a file means the same everywhere (and breaks the same limits). The chunks are
    cut from one reading of the file, so the separator its header line decided (``,``,
    ``;`` or tab) reads every chunk.
    """
    with path.open("rb") as raw, csv_text(raw, on_read) as text:
        chunk = RecipientList()
        size = 0
        last = 1
        try:
            for row in csv_rows(text, limits):
                chunk.add(row.number, row.email, row.variables)
                last = row.number
                size += 1
                if size >= rows:
                    yield chunk
                    chunk, size = RecipientList(), 0
            if size:
                yield chunk
        except UnicodeDecodeError:
            raise RecipientListError(f"the file is not UTF-8 text (after line {last})") from None


@dataclass
class ImportTotals:
    """The report of a whole file: counts, and the first invalid rows with their reasons."""

    added: int = 0
    duplicates: int = 0
    invalid_count: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    erased: int = 0

    def include(self, report: ImportReport) -> None:
        self.added += report.added
        self.duplicates += report.duplicates
        self.erased += report.erased
        self.invalid_count += len(report.invalid)
        room = INVALID_SHOWN - len(self.invalid)
        if room > 0:
            self.invalid.extend(report.invalid[:room])
