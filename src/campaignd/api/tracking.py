"""The public tracking ends: ``GET /c/{token}`` (a tracked link: 302 to the URL stored with
the campaign) and ``GET /o/{token}`` (the 1x1 tracking image). A token that does not open
answers 404 and records nothing (``actions.tracking``)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campaignd.actions.errors import NotFound
from campaignd.actions.tracking import Tracker
from campaignd.api.public_pages import not_found

router = APIRouter(include_in_schema=False)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A transparent 1x1 GIF."""
HEADERS = {"Cache-Control": "no-store, max-age=0", "X-Robots-Tag": "noindex"}


def tracker_of(request: Request) -> Tracker:
    tracker = getattr(request.app.state, "tracker", None)
    if tracker is None:
        tracker = Tracker(request.app.state.database)
        request.app.state.tracker = tracker
    return tracker


def _client(request: Request) -> tuple[str | None, str | None]:
    address = request.client.host if request.client else None
    return request.headers.get("user-agent"), address


@router.get("/c/{token}")
async def follow_link(request: Request, token: str) -> Response:
    agent, address = _client(request)
    try:
        url = await tracker_of(request).click(token, user_agent=agent, address=address)
    except NotFound:
        return not_found()
    return Response(status_code=302, headers=HEADERS | {"Location": url})


@router.get("/o/{token}")
async def tracking_image(request: Request, token: str) -> Response:
    agent, address = _client(request)
    try:
        await tracker_of(request).open(token, user_agent=agent, address=address)
    except NotFound:
        return Response(status_code=404, headers=HEADERS)
    return Response(GIF, media_type="image/gif", headers=HEADERS)
