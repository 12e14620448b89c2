"""The public tracking ends: ``GET /c/{token}`` (a tracked link: 302 to the URL stored with
the campaign) and ``GET /o/{token}`` (the 1x1 tracking image). A token that does not open
answers 404 and records nothing (``actions.tracking``).

They are the busiest requests an instance serves (every reader's every click), so they are
answered by a small ASGI middleware in front of the application's routing: no request
object, dependency resolution, exception handlers, session or template for them, only the
path, the ``User-Agent`` header and the client's address (``TrustedProxies``, when set,
runs first). Every other request goes on to the application unchanged. The answer does
not wait for the event's commit (``Tracker``, ``wait=False``); ``settle`` waits for what
is queued, and the runtime calls it before a graceful stop ends.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from campaignd.actions.errors import NotFound
from campaignd.actions.tracking import Tracker
from campaignd.api.public_pages import not_found

CLICK = "c"
OPEN = "o"

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A transparent 1x1 GIF."""
HEADERS = [(b"cache-control", b"no-store, max-age=0"), (b"x-robots-tag", b"noindex")]
IMAGE_HEADERS = [
    *HEADERS,
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
]
EMPTY_HEADERS = [*HEADERS, (b"content-length", b"0")]
NOT_ALLOWED_HEADERS = [(b"allow", b"GET"), (b"content-length", b"0")]

URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
"""Characters a URL may hold as they are; anything else (spaces, letters beyond ASCII) is
percent-encoded in ``Location``, which must be ASCII."""


@lru_cache(maxsize=4096)
def location(url: str) -> bytes:
    """``url`` as the bytes of a ``Location`` header (each stored link encoded once)."""
    return quote(url, safe=URL_SAFE).encode("ascii")


def tracker_of(app: object) -> Tracker:
    """The application's tracker, made on first use (a test may set its own)."""
    state = app.state  # type: ignore[attr-defined]
    tracker = getattr(state, "tracker", None)
    if tracker is None:
        tracker = Tracker(state.database)
        state.tracker = tracker
    return tracker


async def settle(app: object) -> None:
    """Wait until the opens and clicks answered are written (before the process stops)."""
    tracker = getattr(app.state, "tracker", None)  # type: ignore[attr-defined]
    if tracker is not None:
        await tracker.settled()


def _user_agent(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return bytes(value).decode("latin-1")
    return None


def _address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _tracking_end(scope: Scope) -> tuple[str, str] | None:
    """(``c`` or ``o``, the token) when the request is for a tracking end."""
    if scope["type"] != "http":
        return None
    path: str = scope["path"]
    if len(path) < 4 or path[0] != "/" or path[2] != "/" or path[1] not in (CLICK, OPEN):
        return None
    token = path[3:]
    if "/" in token:
        return None
    return path[1], token


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TrackingEnds:
    """ASGI middleware answering ``GET /c/{token}`` and ``GET /o/{token}`` itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        end = _tracking_end(scope)
        if end is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            await _send(send, 405, NOT_ALLOWED_HEADERS, b"")
            return
        kind, token = end
        tracker = tracker_of(scope["app"])
        agent, address = _user_agent(scope), _address(scope)
        if kind == CLICK:
            try:
                url = await tracker.click(token, user_agent=agent, address=address, wait=False)
            except NotFound:
                await not_found()(scope, receive, send)
                return
            await _send(send, 302, [*EMPTY_HEADERS, (b"location", location(url))], b"")
            return
        try:
            await tracker.open(token, user_agent=agent, address=address, wait=False)
        except NotFound:
            await _send(send, 404, EMPTY_HEADERS, b"")
            return
        await _send(send, 200, IMAGE_HEADERS, GIF)
