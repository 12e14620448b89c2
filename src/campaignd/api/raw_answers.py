"""An error answered by ASGI middleware before any route runs: ``{"detail": "..."}`` as the
application's own error handlers write it."""

from __future__ import annotations

import json

from starlette.types import Send


async def send_problem(send: Send, status: int, detail: str, *, close: bool = False) -> None:
    """Answer ``status`` with ``detail``; ``close``: ask the client to drop the connection
    (the rest of a body too large to read)."""
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
