"""Campaigns: create, list, read, edit, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from campaignd.actions import campaigns as actions
from campaignd.actions import clones, deferral, frequency, local_time
from campaignd.actions.campaign_targets import TargetNames
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.feedback_models import feedback_body
from campaignd.api.models import (
    CONFLICT_RESPONSES,
    Campaign,
    CampaignCreate,
    CampaignEdit,
    CampaignPage,
    CreatedCampaign,
    ImportReport,
    RecipientItem,
)
from campaignd.api.params import CampaignId, Cursor
from campaignd.api.routing import ApiRoute
from campaignd.domain.content import LayoutChoice
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.domain.recipients import RecipientList, RecipientListError, from_json
from campaignd.settings import Settings
from campaignd.store.rows import Row

router = APIRouter(tags=["campaigns"], route_class=ApiRoute)


def import_report(report: actions.ImportReport) -> ImportReport:
    return ImportReport.model_validate(
        {
            "added": report.added,
            "duplicates": report.duplicates,
            "invalid": [vars(row) for row in report.invalid],
            "erased": report.erased,
        }
    )


async def recipient_list(items: list[RecipientItem], settings: Settings) -> RecipientList:
    """The list, with its variables held to the ``CAMPAIGND_MAX_VARS_*`` limits (422)."""
    raw = [item if isinstance(item, str) else item.model_dump() for item in items]
    try:
        return await asyncio.to_thread(from_json, raw, actions.recipient_limits(settings))
    except RecipientListError as error:
        raise Invalid(str(error)) from None


def campaign(row: Row) -> Campaign:
    return Campaign.model_validate(row)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
async def create_campaign(
    body: Annotated[CampaignCreate, Body()], services: ServicesDep, principal: PrincipalDep
) -> CreatedCampaign:
    """Create a draft (scheduled, given ``scheduledFor``), optionally with recipients and
    the lists and segments it targets."""
    content = actions.CampaignContent(
        **body.model_dump(
            include={
                "name",
                "subject",
                "html_body",
                "text_body",
                "from_address",
                "reply_to",
                "body_format",
                "track_clicks",
                "track_opens",
            }
        ),
        layout=body.layout
        if "layout" in body.model_fields_set
        else LayoutChoice.ORGANIZATION_DEFAULT,
    )
    recipients = (
        await recipient_list(body.recipients, services.settings)
        if body.recipients is not None
        else None
    )
    await frequency.check_category(
        services, principal, body.category, organization=body.organization
    )
    window = local_time.check_send_window(body.send_window)
    capped, deadline = deferral.check_deferral(
        body.capped_recipients, body.defer_until, starts=body.scheduled_for
    )
    row, report = await actions.create_campaign(
        services,
        principal,
        content,
        organization=body.organization,
        recipient_list=recipients,
        scheduled_for=body.scheduled_for,
        targets=TargetNames(lists=body.lists or None, segments=body.segments or None),
    )
    if body.category is not None:
        await frequency.set_campaign_category(services, principal, int(row["id"]), body.category)
        row = await actions.get_campaign(services, principal, int(row["id"]))
    if window is not None:
        row = await local_time.set_send_window(services, principal, int(row["id"]), window)
    if deadline is not None:
        row = await deferral.set_deferral(
            services, principal, int(row["id"]), capped=capped, until=deadline
        )
    created = CreatedCampaign.model_validate(row)
    if report is not None:
        created.import_ = import_report(report)
    return created


@router.get("/campaigns")
async def list_campaigns(
    services: ServicesDep,
    principal: PrincipalDep,
    status: CampaignStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> CampaignPage:
    """Campaigns, newest first, one page at a time."""
    rows, next_cursor = await actions.list_campaigns(
        services,
        principal,
        status=status.value if status else None,
        cursor=cursor,
        limit=limit,
    )
    return CampaignPage(campaigns=[campaign(row) for row in rows], next_cursor=next_cursor)


@router.get("/campaigns/{campaign_id}")
async def get_campaign(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Campaign:
    """One campaign with its status, recipient count, deliveries counted per status, and
    ``feedback``: bounces, complaints and unsubscribes with their rates."""
    row = await actions.get_campaign(services, principal, campaign_id, with_figures=True)
    row["feedback"] = feedback_body(row.pop("figures"))
    return campaign(row)


@router.patch("/campaigns/{campaign_id}", responses=CONFLICT_RESPONSES)
async def edit_campaign(
    campaign_id: CampaignId,
    body: Annotated[CampaignEdit, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> Campaign:
    """Edit content, lists and segments while the campaign is a draft or scheduled; only the
    fields sent change."""
    changes = body.model_dump(exclude_unset=True)
    if "body_format" in changes and changes["body_format"] is None:
        raise Invalid("bodyFormat: must be html, markdown or text")
    if not changes:
        raise Invalid("the body names no field to change")
    for name, wire in (("track_clicks", "trackClicks"), ("track_opens", "trackOpens")):
        if name in changes and changes[name] is None:
            raise Invalid(f"{wire}: must be true or false")
    targets = TargetNames(lists=changes.pop("lists", None), segments=changes.pop("segments", None))
    has_window = "send_window" in changes
    window = local_time.check_send_window(changes.pop("send_window")) if has_window else None
    has_category = "category" in changes
    category = changes.pop("category", None)
    has_deferral = "capped_recipients" in changes or "defer_until" in changes
    capped = changes.pop("capped_recipients", deferral.UNSET)
    deadline = changes.pop("defer_until", deferral.UNSET)
    if has_category or has_deferral:
        current = await actions.get_campaign(services, principal, campaign_id)
    if has_category:
        await frequency.check_category(
            services, principal, category, organization=str(current["organization"])
        )
    if has_deferral:
        if capped is None:
            raise Invalid("cappedRecipients: must be skip or defer")
        deferral.check_change(current, capped=capped, until=deadline)
    if changes or targets or not (has_window or has_category or has_deferral):
        row = await actions.edit_campaign(
            services, principal, campaign_id, changes, targets=targets
        )
    if has_category:
        await frequency.set_campaign_category(services, principal, campaign_id, category)
        row = await actions.get_campaign(services, principal, campaign_id)
    if has_window:
        row = await local_time.set_send_window(services, principal, campaign_id, window)
    if has_deferral:
        row = await deferral.set_deferral(
            services, principal, campaign_id, capped=capped, until=deadline
        )
    return campaign(row)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CONFLICT_RESPONSES,
)
async def delete_campaign(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Delete a draft."""
    await actions.delete_campaign(services, principal, campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/campaigns/{campaign_id}/clone", status_code=status.HTTP_201_CREATED)
async def clone_campaign(
    campaign_id: CampaignId,
    services: ServicesDep,
    principal: PrincipalDep,
    recipients: Annotated[
        bool, Query(description="copy the recipients too (false: content only)")
    ] = True,
) -> Campaign:
    """A new draft with this campaign's content and recipients (named "... (copy)"), in any
    status of the original: send it again, or change it first."""
    return campaign(
        await clones.clone_campaign(services, principal, campaign_id, with_recipients=recipients)
    )
