"""A campaign's recipients: add them (JSON or CSV) and read their delivery outcomes."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from campaignd.actions import campaigns as actions
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.content import is_json, media_type, nesting_depth_exceeds, read_json
from campaignd.api.errors import ProblemError, describe_errors
from campaignd.api.models import (
    CONFLICT_RESPONSES,
    Delivery,
    DeliveryPage,
    ImportReport,
    RecipientsRequest,
)
from campaignd.api.params import CampaignId, Cursor
from campaignd.api.routes.campaigns import import_report, recipient_list
from campaignd.api.routing import ApiRoute
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.domain.recipients import (
    RecipientLimits,
    RecipientList,
    RecipientListError,
    from_csv,
)
from campaignd.settings import Settings
from campaignd.store.rows import Row

router = APIRouter(tags=["recipients"], route_class=ApiRoute)

CSV_TYPES = {"text/csv", "application/csv"}

BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/RecipientsRequest"},
                "example": {"recipients": ["ada@example.com", {"email": "grace@example.org"}]},
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "email,first_name\nada@example.com,Ada\n",
            },
        },
    }
}


def _parse_csv(body: bytes, limits: RecipientLimits) -> RecipientList:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProblemError(
            400, f"the CSV is not UTF-8 (byte {error.start} cannot be read); save it as UTF-8"
        ) from None
    try:
        return from_csv(text, limits)
    except RecipientListError as error:
        raise Invalid(str(error)) from None


async def read_recipient_list(request: Request, settings: Settings) -> RecipientList:
    """The body as a recipient list, parsed off the event loop; a wrong content type is 415
    before anything is read."""
    kind = media_type(request)
    if kind in CSV_TYPES:
        limits = actions.recipient_limits(settings)
        return await asyncio.to_thread(_parse_csv, await request.body(), limits)
    if kind is None or is_json(kind):
        data = await read_json(request)
        try:
            parsed = RecipientsRequest.model_validate(data)
        except ValidationError as error:
            raise Invalid(describe_errors(error.errors())) from None
        return await recipient_list(parsed.recipients, settings)
    raise ProblemError(415, f"send recipients as application/json or text/csv, not {kind}")


@router.post(
    "/campaigns/{campaign_id}/recipients", openapi_extra=BODIES, responses=CONFLICT_RESPONSES
)
async def add_recipients(
    campaign_id: CampaignId, request: Request, services: ServicesDep, principal: PrincipalDep
) -> ImportReport:
    """Add recipients to a draft or scheduled campaign. Invalid addresses are reported with
    their row and reason; addresses the campaign already holds count as duplicates.

    A CSV's header line decides its separator: `;` or a tab when the line holds more of
    them than commas outside quotes, else `,`. Column names are matched trimmed and in any
    case. A header without an `email` column, or naming a column twice, answers 422 saying
    what the header holds and what to rename.

    Role, campaign and status are checked before the body is read. A list that breaks a
    limit (CAMPAIGND_MAX_VARS_*, CAMPAIGND_MAX_CSV_*), or a CSV with a quote that is never
    closed, answers 422 naming the row and the limit, and nothing is added."""
    await actions.check_recipients_welcome(services, principal, campaign_id)
    recipients = await read_recipient_list(request, services.settings)
    report = await actions.add_recipients(services, principal, campaign_id, recipients)
    return import_report(report)


STORED_VARS_SHOWN_DEPTH = 64
"""Variables stored before the nesting limits existed may be deeper than a response can
carry; they are shown as null rather than failing the whole page."""


def delivery(row: Row) -> Delivery:
    variables = row.get("variables")
    if variables is not None and nesting_depth_exceeds(variables, STORED_VARS_SHOWN_DEPTH):
        variables = None
    return Delivery.model_validate({**row, "vars": variables})


@router.get("/campaigns/{campaign_id}/recipients")
async def list_recipients(
    campaign_id: CampaignId,
    services: ServicesDep,
    principal: PrincipalDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Each recipient's delivery: status, skip code and reason, attempts, time sent, last error."""
    rows, next_cursor = await actions.list_recipients(
        services,
        principal,
        campaign_id,
        status=status.value if status else None,
        cursor=cursor,
        limit=limit,
    )
    return DeliveryPage(recipients=[delivery(row) for row in rows], next_cursor=next_cursor)
