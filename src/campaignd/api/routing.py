"""The route class of the admin API: who is calling is known before the body is read, and
JSON bodies are parsed with a nesting limit (off the event loop when large)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from campaignd.api.auth import authenticate
from campaignd.api.content import max_json_depth, parse_json_body


class LimitedJsonRequest(Request):
    """``request.json()`` through ``parse_json_body``: CAMPAIGND_MAX_JSON_DEPTH applies to
    every JSON body FastAPI reads for a route."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = await parse_json_body(body, max_depth=max_json_depth(self))
        return self._json


class ApiRoute(APIRoute):
    """Authenticates first (401 before a byte of the body is read or parsed), then lets
    FastAPI read the body through ``LimitedJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            limited = LimitedJsonRequest(request.scope, request.receive)
            await authenticate(limited)
            return await handler(limited)

        return handle
