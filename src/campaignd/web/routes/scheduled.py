"""The scheduled page of the original plan: what is coming in the next hours, what ran lately."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from campaignd.actions import campaigns as actions
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.errors import AdminRoute
from campaignd.web.rendering import render
from campaignd.web.session import services_of

router = APIRouter(prefix="/admin/marketing/campaigns/scheduled", route_class=AdminRoute)

EXECUTIONS_SHOWN = 50
REFRESH_SECONDS = 30


async def _tables(request: Request, viewer: Viewer) -> dict[str, Any]:
    services = services_of(request)
    hours = services.settings.upcoming_hours
    return {
        "upcoming": await actions.upcoming(services, viewer.principal, hours=hours),
        "executions": await actions.execution_log(
            services, viewer.principal, limit=EXECUTIONS_SHOWN
        ),
        "hours": hours,
        "refresh_seconds": REFRESH_SECONDS,
    }


@router.get("")
async def scheduled_page(request: Request, viewer: ViewerDep) -> Response:
    context = {"active": "scheduled", **await _tables(request, viewer)}
    return await render(request, "scheduled.html", context, viewer=viewer)


@router.get("/tables")
async def scheduled_tables(request: Request, viewer: ViewerDep) -> Response:
    """The two tables alone: what the page swaps in every 30 seconds."""
    return await render(
        request, "fragments/scheduled_tables.html", await _tables(request, viewer), viewer=viewer
    )
