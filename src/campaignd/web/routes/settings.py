"""The Settings page: every settings page of the organization, with what it is for."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from campaignd.web.auth import ViewerDep
from campaignd.web.errors import AdminRoute
from campaignd.web.rendering import render

router = APIRouter(prefix="/admin/marketing/settings", route_class=AdminRoute)


@router.get("")
async def settings_page(request: Request, viewer: ViewerDep) -> Response:
    return await render(request, "settings.html", {"active": "settings"}, viewer=viewer)
