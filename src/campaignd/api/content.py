"""Content types: JSON bodies must say so (415 otherwise); recipients may also be CSV."""

from __future__ import annotations

import asyncio
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


PARSE_IN_THREAD_BYTES = 256 * 1024
"""Bodies larger than this are parsed in a worker thread, off the event loop."""


def too_deep(limit: int) -> ProblemError:
    return ProblemError(
        422, f"the JSON body is nested more than {limit} levels deep, the limit of this server"
    )


def nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether objects and lists in ``value`` nest deeper than ``limit`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """The JSON value of ``body``; deeper than ``max_depth`` answers 422. Malformed JSON
    raises ``json.JSONDecodeError`` (or ``UnicodeDecodeError``) for the caller to answer."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise too_deep(max_depth) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError as error:  # a number of more than 4300 digits, for one
        raise ProblemError(400, f"the body is not valid JSON: {error}") from None
    if nesting_depth_exceeds(value, max_depth):
        raise too_deep(max_depth)
    return value


async def parse_json_body(body: bytes, *, max_depth: int) -> Any:
    """``parse_json``, in a worker thread when the body is large."""
    if len(body) > PARSE_IN_THREAD_BYTES:
        return await asyncio.to_thread(parse_json, body, max_depth=max_depth)
    return parse_json(body, max_depth=max_depth)


def max_json_depth(request: Request) -> int:
    depth: int = request.app.state.services.settings.max_json_depth
    return depth


async def read_json(request: Request) -> Any:
    """The parsed JSON body; malformed JSON answers 400, too deeply nested JSON 422."""
    body = await request.body()
    if not body.strip():
        raise ProblemError(400, "the body is empty; send a JSON object")
    try:
        return await parse_json_body(body, max_depth=max_json_depth(request))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProblemError(400, f"the body is not valid JSON: {error}") from None
