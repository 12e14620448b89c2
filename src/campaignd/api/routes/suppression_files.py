"""An organization's suppression list as a CSV file: export it, import one.

Not under ``require_json``: the import's body is ``text/csv``, the export's answer too. The
routes come before ``/suppressions/{email}``, so ``export`` and ``import`` are never read as
an address.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from campaignd.actions import suppression_files as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.content import media_type
from campaignd.api.errors import ProblemError
from campaignd.api.models import (
    ERROR_RESPONSES,
    InvalidSuppression,
    SuppressionReason,
    SuppressionsImported,
)
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["suppressions"], route_class=ApiRoute)

CSV_TYPES = {"text/csv", "application/csv"}
SPOOLED_IN_MEMORY = 1 << 20
"""A body up to this size stays in memory while it is imported; a larger one goes to a
temporary file, so memory stays flat whatever the size."""
WRITE_BYTES = 1 << 20

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]

IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "email,reason\nada@example.com,bounced\ngrace@example.org,\n",
            }
        },
    }
}
PROBLEM_AS_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
EXPORT_ANSWERS: dict[int | str, dict[str, Any]] = {
    # errors are JSON: said here, or they would be documented in the route's own type, CSV
    **{
        status: {"description": answer["description"], "content": PROBLEM_AS_JSON}
        for status, answer in ERROR_RESPONSES.items()
    },
    200: {
        "description": "The list as CSV (`email,reason,created_at`), in address order",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "email,reason,created_at\r\n"
                "ada@example.com,bounced,2026-11-20T10:00:00Z\r\n",
            }
        },
    },
}


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


async def _encoded(lines: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for text in lines:
        yield text.encode("utf-8")


@router.get("/suppressions/export", response_class=CsvResponse, responses=EXPORT_ANSWERS)
async def export_suppressions(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    reason: SuppressionReason | None = None,
) -> StreamingResponse:
    """The suppression list as CSV, streamed a page at a time (any size, flat memory):
    `email,reason,created_at`, times in UTC (ISO 8601), in address order. With `reason`,
    only the entries of that reason. Viewers may export."""
    export = await actions.export_suppressions(
        services, principal, organization=organization, reason=reason
    )
    disposition = f'attachment; filename="{export.file_name}"'
    return CsvResponse(
        _encoded(export.lines()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


async def spool_body(request: Request, spool: IO[bytes]) -> None:
    """Copy the body into ``spool`` as it arrives (the size limit counts every byte), then
    rewind it."""
    pending = bytearray()
    async for piece in request.stream():
        pending += piece
        if len(pending) >= WRITE_BYTES:
            await asyncio.to_thread(spool.write, bytes(pending))
            pending.clear()
    await asyncio.to_thread(spool.write, bytes(pending))
    spool.seek(0)


@router.post("/suppressions/import", openapi_extra=IMPORT_BODY)
async def import_suppressions(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    reason: Annotated[
        SuppressionReason, Query(description="the reason of rows without a reason of their own")
    ] = "manual",
) -> SuppressionsImported:
    """Suppress the addresses of a CSV file (`Content-Type: text/csv`): a header row with an
    `email` column and an optional `reason` column; other columns are ignored.

    Rows with an invalid address or an unknown reason are skipped and reported with their
    row number (the first 1,000; `invalidCount` counts them all); the other rows are
    imported. An address already suppressed keeps its reason and counts as `unchanged`.
    A file that cannot be read as a whole (no `email` column, a quote never closed, a
    limit broken: 422; not UTF-8: 400) changes nothing. Role, organization and reason are
    checked before the body is read."""
    await actions.import_target(services, principal, organization=organization, reason=reason)
    kind = media_type(request)
    if kind not in CSV_TYPES:
        raise ProblemError(415, f"send the file as text/csv, not {kind or 'no Content-Type'}")
    with tempfile.SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY) as spool:
        await spool_body(request, spool)
        done = await actions.import_suppressions(
            services, principal, spool, organization=organization, reason=reason
        )
    return SuppressionsImported(
        organization=done.organization,
        added=done.added,
        unchanged=done.unchanged,
        invalid=[
            InvalidSuppression(row=row.row, email=row.email, problem=row.reason)
            for row in done.invalid
        ],
        invalid_count=done.invalid_count,
    )
