"""Requests whose text holds the NUL character are refused with a 422 naming where it is.

PostgreSQL cannot store U+0000 in text nor compare with it (SQLite can), so a NUL in a
campaign's name, a list's description or a search reached the database as a server error
on one and was stored on the other. No field of campaignd means anything with it, so it
is refused before any route runs, on both databases alike: in the URL's path, in its query
and in JSON and form bodies. Streamed imports (CSV, JSON lines) and uploaded files are
left to their routes, which name the line (``domain.contacts``, ``domain.recipients``),
and the admin pages' forms to ``web.csrf``, which answers with a page. Bounce webhooks'
bodies pass as they came: a provider's diagnostic may hold a NUL, and refusing it would
lose the bounce; their text is made storable once verified (``domain.feedback.storable``).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaignd.api.limits import media_type
from campaignd.api.raw_answers import send_problem
from campaignd.domain.nul_characters import NUL, NUL_PROBLEM, nul_place

FORM = "application/x-www-form-urlencoded"
ADMIN_PAGES = "/admin"
BOUNCE_WEBHOOKS = "/webhooks/bounces/"


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


def _pairs_place(text: str) -> str | None:
    """The name of the first query or form field holding a NUL, or None."""
    if NUL not in text and "%00" not in text:
        return None
    for name, value in parse_qsl(text, keep_blank_values=True):
        if NUL in name:
            return "a parameter's name"
        if NUL in value:
            return name
    return None


def _json_place(body: bytes) -> str | None:
    """Where the JSON ``body`` holds a NUL, or None (also when it is not JSON at all: the
    route then says so)."""
    if b"\\u0000" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return nul_place(document)


class NulCharacters:
    """ASGI middleware answering 422 to a request whose path, query or JSON or form body
    holds U+0000; JSON and form bodies are read whole (the routes read them whole too) and
    handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if NUL in scope.get("path", ""):
            await _refuse(send, f"the URL's path: {NUL_PROBLEM}")
            return
        query = scope.get("query_string", b"").decode("latin-1")
        place = _pairs_place(query)
        if place is not None:
            await _refuse(send, f"{place}: {NUL_PROBLEM}")
            return
        path = scope.get("path", "")
        kind = media_type(scope)
        form = kind == FORM and not path.startswith(ADMIN_PAGES)
        if path.startswith(BOUNCE_WEBHOOKS) or not (_is_json(kind) or form):
            await self.app(scope, receive, send)
            return
        body, after = await _read_body(receive)
        if _is_json(kind):
            place = _json_place(body)
        else:
            place = _pairs_place(body.decode("utf-8", "replace"))
        if place is not None:
            await _refuse(send, f"{place or 'body'}: {NUL_PROBLEM}")
            return
        await self.app(scope, _replay(body, after, receive), send)


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The request body's bytes, and what came after it (a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _replay(body: bytes, after: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` as one message, then ``after``, then goes on
    with ``receive`` (one copy of the body, not its chunks and their join)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    pending += after

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(send: Send, detail: str) -> None:
    await send_problem(send, 422, detail)
