"""The lifecycle: schedule, unschedule, execute now, pause, resume, cancel, and preview."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from campaignd.actions import campaigns as actions
from campaignd.actions import local_time
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import (
    CONFLICT_RESPONSES,
    Campaign,
    DkimSigning,
    Executed,
    Preview,
    ScheduleRequest,
)
from campaignd.api.params import CampaignId
from campaignd.api.routes.campaigns import campaign
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["lifecycle"], route_class=ApiRoute)


@router.post("/campaigns/{campaign_id}/schedule", responses=CONFLICT_RESPONSES)
async def schedule(
    campaign_id: CampaignId,
    body: Annotated[ScheduleRequest, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> Campaign:
    """Schedule a draft or missed campaign (or move a scheduled one) to a future time:
    ``scheduledFor`` (one instant), or ``localTime`` with ``timezone`` (that time in each
    recipient's zone, see docs/scheduling.md)."""
    if (body.scheduled_for is None) == (body.local_time is None):
        raise Invalid("scheduledFor: give either scheduledFor or localTime (with timezone)")
    if body.local_time is not None:
        return campaign(
            await local_time.schedule_local(
                services, principal, campaign_id, body.local_time, timezone=body.timezone
            )
        )
    if body.timezone is not None:
        raise Invalid("timezone: only with localTime (scheduledFor carries its offset)")
    assert body.scheduled_for is not None
    return campaign(await actions.schedule(services, principal, campaign_id, body.scheduled_for))


@router.post("/campaigns/{campaign_id}/unschedule", responses=CONFLICT_RESPONSES)
async def unschedule(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Campaign:
    """Back to draft."""
    return campaign(await actions.unschedule(services, principal, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/execute",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CONFLICT_RESPONSES,
)
async def execute(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Executed:
    """Start sending now (from draft, scheduled or missed); the run is logged with its actor."""
    run = await actions.execute(services, principal, campaign_id)
    run_id = int(run["id"])
    return Executed(
        success=True,
        message=f"campaign {campaign_id} is sending now (run {run_id})",
        run_id=run_id,
    )


@router.post("/campaigns/{campaign_id}/pause", responses=CONFLICT_RESPONSES)
async def pause(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Campaign:
    """Stop handing out messages; those in flight finish."""
    return campaign(await actions.pause(services, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/resume", responses=CONFLICT_RESPONSES)
async def resume(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Campaign:
    """Carry on where the campaign stopped."""
    return campaign(await actions.resume(services, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/cancel", responses=CONFLICT_RESPONSES)
async def cancel(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> Campaign:
    """Cancel a scheduled, sending or paused campaign; queued deliveries become cancelled."""
    return campaign(await actions.cancel(services, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/preview")
async def preview(
    campaign_id: CampaignId,
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=0, le=10_000, description="most reasons listed")] = 1000,
) -> Preview:
    """Who would get the campaign now, and why the others would not; and which variables
    the templates print that some recipients have no value for (changes nothing)."""
    result = await actions.preview_campaign(services, principal, campaign_id, limit=limit)
    signing = result.dkim
    return Preview.model_validate(
        asdict(result)
        | {
            "dkim": None
            if signing is None
            else DkimSigning(
                signed=signing.signed,
                from_domain=signing.from_domain,
                domain=signing.domain,
                selectors=[selector for selector, _ in signing.keys],
                note=signing.note,
            )
        }
    )
