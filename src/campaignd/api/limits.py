"""The body size limit: 413 above ``max_body_bytes`` (``max_import_bytes`` for a streamed
import), by Content-Length and by bytes received."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaignd.api.raw_answers import send_problem


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than the limit of {limit} bytes")


@dataclass(frozen=True)
class StreamedBodies:
    """POST routes that read a body of ``media_types`` as a stream, never whole in memory
    (contact imports): they may take up to ``limit`` bytes instead."""

    paths: frozenset[str]
    media_types: frozenset[str]
    limit: int

    def applies(self, scope: Scope) -> bool:
        if scope.get("method") != "POST" or scope.get("path") not in self.paths:
            return False
        return media_type(scope) in self.media_types


def media_type(scope: Scope) -> str:
    """The request's media type (``text/csv``), lower-cased, without parameters; ``""``."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return str(value.decode("latin-1").split(";", 1)[0].strip().lower())
    return ""


class BodySizeLimit:
    """ASGI middleware refusing bodies above ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, *, limit: int, streamed: StreamedBodies | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.default_limit
        if self.streamed is not None and self.streamed.applies(scope):
            limit = self.streamed.limit
        if self._declared_length(scope) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, limit)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _refuse(self, send: Send, limit: int) -> None:
        await send_problem(send, 413, str(BodyTooLarge(limit).detail), close=True)
