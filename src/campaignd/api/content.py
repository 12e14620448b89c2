"""Content types: JSON bodies must say so (415 otherwise); recipients may also be CSV."""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from fastapi import Request

from campaignd.api.errors import ProblemError


def media_type(request: Request) -> str | None:
    """``application/json; charset=utf-8`` -> ``application/json``; None without a header."""
    header = request.headers.get("content-type")
    if not header:
        return None
    message = Message()
    message["content-type"] = header
    return message.get_content_type()


def is_json(kind: str) -> bool:
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def require_json(request: Request) -> None:
    """Dependency of routes with a JSON body: another declared content type answers 415."""
    kind = media_type(request)
    if kind is not None and not is_json(kind):
        raise ProblemError(415, f"send the body as application/json, not {kind}")


async def read_json(request: Request) -> Any:
    """The parsed JSON body; malformed JSON answers 400."""
    body = await request.body()
    if not body.strip():
        raise ProblemError(400, "the body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProblemError(400, f"the body is not valid JSON: {error}") from None
