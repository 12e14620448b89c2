"""An organization's contacts: bulk upsert (JSON, or CSV and JSON Lines streamed), search,
read, edit, delete, and the privacy export and erasure of one address."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import ValidationError

from campaignd.actions import contacts as actions
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.contact_models import (
    Contact,
    ContactEdit,
    ContactErased,
    ContactExport,
    ContactPage,
    ContactsReport,
    ContactsUpsert,
)
from campaignd.api.content import is_json, media_type, read_json, require_json
from campaignd.api.errors import ProblemError, describe_errors
from campaignd.api.routing import ApiRoute
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import (
    ContactError,
    ContactFormat,
    Mode,
    batches,
    incoming_rows,
)
from campaignd.store.contacts import Contact as StoredContact

router = APIRouter(tags=["contacts"], route_class=ApiRoute)

STREAMED_TYPES = {
    "text/csv": ContactFormat.CSV,
    "application/csv": ContactFormat.CSV,
    "application/x-ndjson": ContactFormat.JSONL,
    "application/jsonl": ContactFormat.JSONL,
}
"""Bodies read as a stream, batch by batch: never whole in memory, up to
``CAMPAIGND_MAX_IMPORT_BYTES`` (``api.limits``)."""
STREAM_BATCH_ROWS = 5_000
READ_BUFFER_BYTES = 1 << 16
WAIT_SECONDS = 1.0

Organization = Annotated[
    str | None, Query(max_length=63, description="organization slug; required for platform admins")
]

BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ContactsUpsert"},
                "example": {
                    "contacts": [
                        {
                            "email": "ada@example.com",
                            "attributes": {"first_name": "Ada", "plan": "pro"},
                        },
                        {"email": "grace@example.org", "status": "unsubscribed"},
                    ],
                    "mode": "merge",
                },
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "email,first_name,plan\nada@example.com,Ada,pro\n",
            },
            "application/x-ndjson": {
                "schema": {
                    "type": "string",
                    "description": 'One contact per line: {"email", "attributes", "status"}',
                }
            },
        },
    }
}

T = TypeVar("T")


class BodyReader(io.RawIOBase):
    """The request body as a blocking file for a worker thread: each read waits for the
    next piece the event loop receives."""

    def __init__(self, receive: Callable[[], bytes | None]) -> None:
        self._receive = receive
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._ended:
            piece = self._receive()
            if piece is None:
                self._ended = True
            else:
                self._pending = piece
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _saved(report: actions.ContactReport) -> str:
    if not report.rows:
        return "nothing was saved"
    return (
        f"the first {report.rows} rows were saved (created {report.created}, updated "
        f"{report.updated}, unchanged {report.unchanged}) and none after them; an import is "
        "an upsert, so the corrected file can be sent again whole"
    )


class StreamAbandoned(Exception):
    """The request was cancelled (the client went away, the server stops): the worker
    thread stops reading."""


async def _import_stream(
    request: Request, kind: ContactFormat, importing: actions.ContactImport
) -> None:
    """Read, check and store the body batch by batch. Parsing runs in a worker thread; the
    body's pieces and the batches' writes run on the event loop. When the request is
    cancelled, the thread notices within ``WAIT_SECONDS`` and stops."""
    loop = asyncio.get_running_loop()
    pieces: AsyncIterator[bytes] = request.stream()
    limits = actions.contact_limits(importing.services)
    abandoned = threading.Event()

    async def next_piece() -> bytes | None:
        async for piece in pieces:
            if piece:
                return piece
        return None

    def on_loop(work: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await work()

        if abandoned.is_set():
            raise StreamAbandoned
        future = asyncio.run_coroutine_threadsafe(run(), loop)
        while True:
            try:
                return future.result(timeout=WAIT_SECONDS)
            except TimeoutError:
                if abandoned.is_set():
                    future.cancel()
                    raise StreamAbandoned from None

    def parse_and_store() -> None:
        raw = io.BufferedReader(BodyReader(lambda: on_loop(next_piece)), READ_BUFFER_BYTES)
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        for batch in batches(incoming_rows(kind, text, limits), STREAM_BATCH_ROWS):
            on_loop(partial(importing.write, batch))

    try:
        await asyncio.to_thread(parse_and_store)
    except ContactError as error:
        raise Invalid(f"{error}; {_saved(importing.report)}") from None
    except asyncio.CancelledError:
        abandoned.set()
        raise


def _report(report: actions.ContactReport) -> ContactsReport:
    return ContactsReport.model_validate(
        {
            "organization": report.organization,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "erased": report.erased,
            "invalid_count": report.invalid_count,
            "invalid": [vars(row) for row in report.invalid],
        }
    )


def _contact(organization: str, contact: StoredContact) -> Contact:
    return Contact.model_validate({**vars(contact), "organization": organization})


async def _upsert_json(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    *,
    organization: str | None,
    mode: Mode | None,
    source: str | None,
) -> actions.ContactReport:
    data = await read_json(request)
    if isinstance(data, dict) and isinstance(data.get("contacts"), list):
        actions.check_count(len(data["contacts"]))
    try:
        body = ContactsUpsert.model_validate(data)
    except ValidationError as error:
        raise Invalid(describe_errors(error.errors())) from None
    given = body.model_fields_set
    if organization and body.organization and organization != body.organization:
        raise Invalid("organization: the query and the body name different organizations")
    items = [(item.email, item.attributes, item.status) for item in body.contacts]
    batch = await asyncio.to_thread(actions.contact_batch, items, actions.contact_limits(services))
    return await actions.upsert_contacts(
        services,
        principal,
        batch,
        mode=body.mode if "mode" in given or mode is None else mode,
        source=body.source if "source" in given else (source or "api"),
        organization=body.organization or organization,
    )


@router.post(
    "/contacts",
    openapi_extra=BODIES,
    responses={415: {"description": "Not JSON, CSV or JSON Lines"}},
)
async def upsert_contacts(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    mode: Annotated[Mode | None, Query(description="merge (default) or replace")] = None,
    source: Annotated[
        str | None, Query(max_length=64, description="where new contacts came from")
    ] = None,
) -> ContactsReport:
    """Create or update contacts, matched by address: up to 10,000 as JSON in one
    transaction, or any number as CSV (an ``email`` column, every other column an
    attribute) or JSON Lines, streamed and stored in batches as they arrive.

    ``mode``: ``merge`` (attributes sent are added to or replace those stored; null takes
    one away) or ``replace`` (the contact's attributes become exactly those sent). A row
    with a ``status`` sets it, and the suppression list follows. Invalid addresses are
    reported with their row, addresses erased on request are counted and left out.
    Anything else wrong answers 422 naming the row and field; for JSON nothing is stored,
    for a stream the batches before that line are."""
    kind = media_type(request)
    if kind in STREAMED_TYPES:
        importing = await actions.ContactImport.open(
            services,
            principal,
            organization=organization,
            mode=mode or Mode.MERGE,
            source=source or "import",
        )
        await _import_stream(request, STREAMED_TYPES[kind], importing)
        return _report(importing.report)
    if kind is None or is_json(kind):
        report = await _upsert_json(
            request, services, principal, organization=organization, mode=mode, source=source
        )
        return _report(report)
    raise ProblemError(
        415,
        f"send contacts as application/json, text/csv or application/x-ndjson, not {kind}",
    )


@router.get("/contacts")
async def search_contacts(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    search: Annotated[
        str | None, Query(max_length=320, description="part of the address, any case")
    ] = None,
    status: ContactStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=320, description="nextCursor of the previous page")
    ] = None,
) -> ContactPage:
    """Contacts in address order, one page at a time (filter by attributes with segments)."""
    slug, rows, next_cursor = await actions.search_contacts(
        services,
        principal,
        organization=organization,
        contains=search,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return ContactPage(contacts=[_contact(slug, row) for row in rows], next_cursor=next_cursor)


@router.get("/contacts/{email:path}/export")
async def export_contact(
    email: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> ContactExport:
    """Everything the organization stores about one address, as one JSON document: the
    contact, its lists, its suppression, its deliveries with their campaigns, cooldown
    entries and audit entries. Admins only; audited."""
    document = await actions.export_contact(services, principal, email, organization=organization)
    return ContactExport.model_validate(document)


@router.post("/contacts/{email:path}/erase")
async def erase_contact(
    email: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> ContactErased:
    """Erase an address from the organization for good: the contact, its memberships and
    suppression go, deliveries keep their outcome without the address or its data, and a
    keyed hash keeps any later import from bringing it back. Admins only; audited;
    repeating it is harmless."""
    erased = await actions.erase_contact(services, principal, email, organization=organization)
    result = erased.erasure
    return ContactErased(
        organization=erased.organization,
        email=erased.email,
        placeholder=result.placeholder,
        contact=result.contact,
        memberships=result.memberships,
        suppression=result.suppression,
        deliveries=result.deliveries,
        skipped=result.skipped,
        cooldown_entries=result.cooldown_entries,
        mentions=result.mentions,
        already_erased=result.already,
    )


@router.get("/contacts/{email:path}")
async def get_contact(
    email: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Contact:
    """One contact: attributes, status, source and times."""
    slug, contact = await actions.get_contact(services, principal, email, organization=organization)
    return _contact(slug, contact)


@router.patch("/contacts/{email:path}", dependencies=[Depends(require_json)])
async def edit_contact(
    email: str,
    body: Annotated[ContactEdit, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
) -> Contact:
    """Change a contact's attributes (``mode`` merge or replace) or status. A status other
    than ``subscribed`` puts the address on the suppression list; ``subscribed`` takes it
    off."""
    if organization and body.organization and organization != body.organization:
        raise Invalid("organization: the query and the body name different organizations")
    slug, contact = await actions.edit_contact(
        services,
        principal,
        email,
        attributes=body.attributes,
        mode=body.mode,
        status=body.status,
        organization=body.organization or organization,
    )
    return _contact(slug, contact)


@router.delete("/contacts/{email:path}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(
    email: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Response:
    """Delete a contact and its list memberships. Its suppression stays; to forget the
    address altogether, erase it."""
    await actions.delete_contact(services, principal, email, organization=organization)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
