"""Reports: one campaign's figures after sending (with its per-recipient CSV) and the
comparison of an organization's last campaigns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from campaignd.actions import campaign_report as actions
from campaignd.api.params import CampaignId
from campaignd.web.auth import ViewerDep
from campaignd.web.errors import AdminRoute
from campaignd.web.page_parts import chosen_organization, listed, optional_text
from campaignd.web.rendering import render
from campaignd.web.report_chart import timeline_chart
from campaignd.web.session import services_of

COMPARE_URL = "/admin/marketing/reports"
COMPARED = (5, 10, 20, 50)

router = APIRouter(route_class=AdminRoute)


def report_url(campaign_id: int) -> str:
    return f"/admin/marketing/campaigns/{campaign_id}/report"


@router.get("/admin/marketing/campaigns/{campaign_id:int}/report")
async def report_page(request: Request, viewer: ViewerDep, campaign_id: CampaignId) -> Response:
    report = await actions.campaign_report(services_of(request), viewer.principal, campaign_id)
    context = {
        "active": "reports",
        "report": report,
        "chart": timeline_chart(report.timeline),
        "export_url": f"{report_url(campaign_id)}.csv",
    }
    return await render(request, "campaigns/report.html", context, viewer=viewer)


async def _encoded(lines: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for text in lines:
        yield text.encode("utf-8")


@router.get("/admin/marketing/campaigns/{campaign_id:int}/report.csv")
async def report_export(request: Request, viewer: ViewerDep, campaign_id: CampaignId) -> Response:
    export = await actions.export_outcomes(services_of(request), viewer.principal, campaign_id)
    return StreamingResponse(
        _encoded(export.lines()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.file_name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(COMPARE_URL)
async def compare_page(
    request: Request,
    viewer: ViewerDep,
    organization: str | None = None,
    last: Annotated[int, Query(ge=1, le=actions.MAX_COMPARED)] = 10,
) -> Response:
    organizations, chosen = await chosen_organization(request, viewer, optional_text(organization))
    found, error = await listed(request, viewer, chosen, actions.compare_campaigns, limit=last)
    summaries: list[actions.Summary] = []
    slug, summaries = found or (chosen or viewer.principal.organization_slug, summaries)
    context = {
        "active": "reports",
        "organizations": organizations,
        "organization": chosen,
        "slug": slug,
        "summaries": summaries,
        "last": last,
        "choices": COMPARED,
        "error": error,
    }
    return await render(request, "reports.html", context, viewer=viewer)
