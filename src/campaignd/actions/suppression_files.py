"""Suppression lists as CSV files: imported in chunks, exported a page at a time.

Both work on lists of a million addresses in flat memory. An import reads its file twice:
once to check that the whole file can be read (a header with an ``email`` column, every
quote closed, every limit kept, UTF-8 throughout), so a file that cannot be read changes
nothing; then again in chunks of ``CHUNK_ROWS`` rows, each written by one statement in a
transaction of its own (a writer waits for no more than one chunk). Rows with an address
that cannot be mailed, or an unknown reason, are skipped and reported with their row
number: the rest of the file is imported, as other ESPs do. The import is audited once,
as ``suppression.import``; that entry is also its report (the admin UI shows it).

An export reads keyset pages of ``EXPORT_PAGE_ROWS`` entries, each in a short read
transaction of its own, so a slow download holds no transaction open.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal, TypeVar

from campaignd.actions.campaigns import recipient_limits
from campaignd.actions.errors import Invalid, NotFound, Unreadable
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.actions.text_files import csv_text
from campaignd.domain.recipients import InvalidRow, RecipientLimits, RecipientListError
from campaignd.domain.suppressions import (
    REASONS,
    SuppressionChunk,
    check_rows,
    export_header,
    export_lines,
    reasons_text,
    suppression_chunks,
)
from campaignd.store import audit, organizations, suppressions
from campaignd.store.columns import utcnow

logger = logging.getLogger("campaignd.suppressions")

CHUNK_ROWS = 5_000
EXPORT_PAGE_ROWS = 5_000
INVALID_KEPT = 1_000
"""Invalid rows kept in an import's report (all of them are counted)."""
IMPORT_ACTION = "suppression.import"
BULK_LOAD_ROWS = 10_000
"""An import that added this many addresses refreshes the planner's statistics (PostgreSQL),
so an export right after it walks the index instead of sorting the list for every page."""
FILE_NAME_CHARS = 200

Phase = Literal["check", "import"]
ReadProgress = Callable[[Phase, int], None]
"""Told how many bytes were read, as the file is read to be checked and then imported
(called from a worker thread)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ImportTarget:
    organization_id: int
    organization: str
    reason: str


@dataclass(frozen=True)
class SuppressionImport:
    """What an import did: its report, kept as its audit entry ``id``."""

    id: int
    organization: str
    file_name: str | None
    reason: str
    """The reason given to rows without one of their own."""
    added: int
    unchanged: int
    """Rows whose address was on the list already (or earlier in the file)."""
    invalid: list[InvalidRow]
    """The first ``INVALID_KEPT`` rows skipped, with why."""
    invalid_count: int
    created_by: str
    created_at: datetime
    interrupted: str | None = None
    """Why the import stopped before the end of the file (None: it did not)."""


@dataclass
class _Totals:
    added: int = 0
    unchanged: int = 0
    invalid_count: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)

    def include(self, chunk: SuppressionChunk, added: int) -> None:
        self.added += added
        self.unchanged += len(chunk.entries) - added + chunk.repeated
        self.invalid_count += len(chunk.invalid)
        room = INVALID_KEPT - len(self.invalid)
        if room > 0:
            self.invalid.extend(chunk.invalid[:room])


def suppression_limits(services: Services) -> RecipientLimits:
    """The CSV limits of the settings (``CAMPAIGND_MAX_CSV_*``), as for recipient lists."""
    return recipient_limits(services.settings)


def _check_reason(reason: str | None) -> None:
    if reason is not None and reason not in REASONS:
        raise Invalid(f"reason: must be one of {reasons_text()}")


async def import_target(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    reason: str = "manual",
) -> ImportTarget:
    """Before a byte of the file is read: may ``principal`` change this organization's
    list, and is ``reason`` one? Raises as ``import_suppressions`` would."""
    principal.require_change()
    _check_reason(reason)
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
    return ImportTarget(organization_id, slug, reason)


def _line_not_utf8(source: IO[bytes], start: int) -> int:
    """The line of the first byte of ``source`` (from ``start``) that is not UTF-8."""
    source.seek(start)
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while block := source.read(1 << 16):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as error:
            return line + block[: max(0, error.start)].count(b"\n")
        line += block.count(b"\n")
    return line


def _check_file(source: IO[bytes], limits: RecipientLimits, on_read: Callable[[int], None]) -> int:
    """Read the whole file as the import will; its number of rows, or the error in words."""
    start = source.tell()
    text = csv_text(source, on_read)
    try:
        return check_rows(text, limits)
    except RecipientListError as error:
        raise Invalid(f"{error}; nothing was imported") from None
    except UnicodeDecodeError:
        line = _line_not_utf8(source, start)
        raise Unreadable(
            f"line {line}: the file is not UTF-8 text (save it as CSV UTF-8); nothing was imported"
        ) from None
    finally:
        text.detach()


async def _ahead(items: Iterator[T]) -> AsyncGenerator[T, None]:
    """The items of ``items``, each next one read in a worker thread while the caller works
    on the one before (parsing one chunk while the database writes the previous one)."""
    end = object()
    pending: asyncio.Future[Any] = asyncio.ensure_future(asyncio.to_thread(next, items, end))
    try:
        while True:
            item = await pending
            if item is end:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(next, items, end))
            yield item
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await asyncio.wait([pending])
        if pending.done() and not pending.cancelled():
            pending.exception()  # read, so an abandoned read is not reported as lost


def _report_detail(
    target: ImportTarget, file_name: str | None, totals: _Totals, interrupted: str | None
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "file_name": file_name,
        "reason": target.reason,
        "added": totals.added,
        "unchanged": totals.unchanged,
        "invalid_count": totals.invalid_count,
        "invalid": [
            {"row": row.row, "email": row.email, "problem": row.reason} for row in totals.invalid
        ],
    }
    if interrupted is not None:
        detail["interrupted"] = interrupted
    return detail


async def _record(
    services: Services,
    principal: Principal,
    target: ImportTarget,
    file_name: str | None,
    totals: _Totals,
    interrupted: str | None = None,
) -> int:
    async with services.database.transaction() as connection:
        return await audit.record(
            connection,
            actor=principal.actor,
            action=IMPORT_ACTION,
            organization_id=target.organization_id,
            detail=_report_detail(target, file_name, totals, interrupted),
        )


async def import_suppressions(
    services: Services,
    principal: Principal,
    source: IO[bytes],
    *,
    organization: str | None = None,
    reason: str = "manual",
    file_name: str | None = None,
    on_read: ReadProgress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> SuppressionImport:
    """Suppress the addresses of a CSV file (``source``, binary, read from where it is and
    read twice: it must be seekable) with an ``email`` column and an optional ``reason``
    column (rows without one get ``reason``).

    A file that cannot be read as a whole raises ``Invalid`` (``Unreadable`` when it is not
    UTF-8) naming the line, before anything is written.
    """
    target = await import_target(services, principal, organization=organization, reason=reason)
    report = on_read or (lambda _phase, _size: None)
    limits = suppression_limits(services)
    start = source.tell()
    await asyncio.to_thread(_check_file, source, limits, lambda size: report("check", size))
    source.seek(start)
    name = file_name[:FILE_NAME_CHARS] if file_name else None
    detail = f"imported from {name} by {principal.actor}" if name else None
    detail = detail or f"imported by {principal.actor}"
    text = csv_text(source, lambda size: report("import", size))
    chunks = suppression_chunks(text, default_reason=target.reason, rows=chunk_rows, limits=limits)
    totals = _Totals()
    now = utcnow()
    try:
        async with contextlib.aclosing(_ahead(chunks)) as ahead:
            async for chunk in ahead:
                async with services.database.transaction() as connection:
                    added = await suppressions.add_suppression_entries(
                        connection,
                        organization_id=target.organization_id,
                        entries=chunk.entries,
                        now=now,
                        detail=detail,
                    )
                totals.include(chunk, added)
    except (RecipientListError, UnicodeDecodeError) as error:
        # the check read the whole file: only a file changed since then gets here
        message = f"{error}; the file changed while it was imported"
        await _record(services, principal, target, name, totals, message)
        raise Invalid(f"{message}, and the rows before this point were imported") from None
    except Exception as error:
        if totals.added or totals.unchanged or totals.invalid_count:
            logger.exception("suppression import into %s stopped", target.organization)
            with contextlib.suppress(Exception):
                await _record(services, principal, target, name, totals, type(error).__name__)
        raise
    finally:
        text.detach()
    report_id = await _record(services, principal, target, name, totals)
    if totals.added >= BULK_LOAD_ROWS:
        async with services.database.transaction() as connection:
            await suppressions.after_bulk_load(connection)
    return SuppressionImport(
        id=report_id,
        organization=target.organization,
        file_name=name,
        reason=target.reason,
        added=totals.added,
        unchanged=totals.unchanged,
        invalid=totals.invalid,
        invalid_count=totals.invalid_count,
        created_by=principal.actor,
        created_at=now,
    )


async def import_report(
    services: Services, principal: Principal, report_id: int
) -> SuppressionImport:
    """An import's report (its audit entry), if it is of an organization the principal
    sees; otherwise NotFound, the same whether it exists or not."""
    async with services.database.connection() as connection:
        row = await audit.entry(
            connection, report_id, action=IMPORT_ACTION, organization_id=principal.scope
        )
        owner = None
        if row is not None and row["organization_id"] is not None:
            owner = await organizations.organization_by_id(connection, int(row["organization_id"]))
    if row is None or owner is None:
        raise NotFound(f"import {report_id} not found")
    detail: dict[str, Any] = row["detail"] or {}
    return SuppressionImport(
        id=int(row["id"]),
        organization=str(owner["slug"]),
        file_name=detail.get("file_name"),
        reason=str(detail.get("reason", "manual")),
        added=int(detail.get("added", 0)),
        unchanged=int(detail.get("unchanged", 0)),
        invalid=[
            InvalidRow(int(item["row"]), str(item["email"]), str(item["problem"]))
            for item in detail.get("invalid", [])
        ],
        invalid_count=int(detail.get("invalid_count", 0)),
        created_by=str(row["actor"]),
        created_at=row["at"],
        interrupted=detail.get("interrupted"),
    )


@dataclass(frozen=True)
class ExportPage:
    text: str
    """CSV lines, each ending in CRLF."""
    rows: int


@dataclass(frozen=True)
class Export:
    organization: str
    reason: str | None
    total: int | None
    """Entries on the list when the export began (asked for with ``count``; entries may
    come and go while the export runs)."""
    pages: AsyncIterator[ExportPage]
    """The entries a page at a time, in address order, each page read in a short read
    transaction of its own."""
    header: str = export_header()

    @property
    def file_name(self) -> str:
        """``suppressions-acme.csv``, ``suppressions-acme-bounced.csv``."""
        name = "-".join(part for part in ("suppressions", self.organization, self.reason) if part)
        return re.sub(r"[^A-Za-z0-9-]", "-", name) + ".csv"

    async def lines(self) -> AsyncIterator[str]:
        """The whole file: the header, then a page of lines at a time."""
        yield self.header
        async for page in self.pages:
            yield page.text


async def export_suppressions(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    reason: str | None = None,
    count: bool = False,
    page_rows: int = EXPORT_PAGE_ROWS,
) -> Export:
    """An organization's list (only ``reason``'s entries, when given) as CSV, in address
    order; with ``count``, how many entries it has now. Scope and reason are checked here,
    before the first line is made."""
    _check_reason(reason)
    total = None
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        if count:
            total = await suppressions.count_suppressions(
                connection, organization_id=organization_id, reason=reason
            )

    async def pages() -> AsyncIterator[ExportPage]:
        after: str | None = None
        while True:
            async with services.database.connection() as connection:
                page = await suppressions.export_page(
                    connection,
                    organization_id=organization_id,
                    reason=reason,
                    after_email=after,
                    limit=page_rows,
                )
            if page:
                yield ExportPage(export_lines(page), len(page))
            if len(page) < page_rows:
                return
            after = page[-1][0]

    return Export(organization=slug, reason=reason, total=total, pages=pages())
