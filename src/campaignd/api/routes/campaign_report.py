"""A campaign's report (sent, delivered, bounced, opens, clicks, links, timeline), the
comparison of an organization's last campaigns, and the per-recipient outcomes as CSV.

Included before ``campaigns``, so that ``/campaigns/compare`` is not read as an id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from campaignd.actions import campaign_report as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import ERROR_RESPONSES
from campaignd.api.params import CampaignId
from campaignd.api.report_models import (
    CampaignComparison,
    CampaignReport,
    CampaignSummary,
    report_model,
    summary_fields,
)
from campaignd.api.routing import ApiRoute
from campaignd.store.tracking import EXPORT_COLUMNS

router = APIRouter(tags=["reports"], route_class=ApiRoute)

PROBLEM_AS_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
EXPORT_ANSWERS: dict[int | str, dict[str, Any]] = {
    **{
        status: {"description": answer["description"], "content": PROBLEM_AS_JSON}
        for status, answer in ERROR_RESPONSES.items()
    },
    200: {
        "description": "Per recipient, in the order they were added: "
        + ", ".join(f"`{name}`" for name in EXPORT_COLUMNS),
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": ",".join(EXPORT_COLUMNS)
                + "\r\nada@example.com,sent,,,2026-12-01T09:00:02Z,yes,no,yes,no\r\n",
            }
        },
    },
}


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


async def _encoded(lines: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for text in lines:
        yield text.encode("utf-8")


@router.get("/campaigns/compare")
async def compare_campaigns(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Annotated[
        str | None, Query(description="organization slug; required for platform admins")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=actions.MAX_COMPARED)] = 10,
) -> CampaignComparison:
    """The figures of the organization's last `limit` campaigns that started, newest first."""
    slug, summaries = await actions.compare_campaigns(
        services, principal, organization=organization, limit=limit
    )
    return CampaignComparison(
        organization=slug,
        campaigns=[CampaignSummary.model_validate(summary_fields(item)) for item in summaries],
    )


@router.get("/campaigns/{campaign_id}/report")
async def campaign_report(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> CampaignReport:
    """What happened after sending: sent, delivered, bounced, complained, unsubscribed;
    unique opens (people and machines apart), unique clicks, rates, clicks per link, and
    people's opens and clicks per hour over the first days."""
    return report_model(await actions.campaign_report(services, principal, campaign_id))


@router.get(
    "/campaigns/{campaign_id}/report/export",
    response_class=CsvResponse,
    responses=EXPORT_ANSWERS,
)
async def export_outcomes(
    campaign_id: CampaignId, services: ServicesDep, principal: PrincipalDep
) -> StreamingResponse:
    """Per-recipient outcomes as CSV, streamed a page at a time (any size, flat memory)."""
    export = await actions.export_outcomes(services, principal, campaign_id)
    return CsvResponse(
        _encoded(export.lines()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.file_name}"',
            "Cache-Control": "no-store",
        },
    )
