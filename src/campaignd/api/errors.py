"""Every error as ``{"detail": "..."}``: one readable sentence with the right status."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from campaignd.actions.errors import ActionError

logger = logging.getLogger("campaignd.api")

TIME_EXAMPLE = "like 2026-12-01T09:00:00+01:00 or 2026-12-01T08:00:00Z"

_MESSAGES = {
    "timezone_aware": f"needs a time zone offset, {TIME_EXAMPLE}",
    "datetime_parsing": f"is not a valid ISO 8601 time, {TIME_EXAMPLE}",
    "datetime_from_date_parsing": f"is not a valid ISO 8601 time, {TIME_EXAMPLE}",
    "datetime_type": f"must be an ISO 8601 time, {TIME_EXAMPLE}",
    "extra_forbidden": "unknown field",
    "missing": "is required",
    "string_type": "must be a string",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
}


STRING_BRANCHES = frozenset({"str", "constrained-str"})
"""How pydantic names the text branch of an item that is text or an object (a recipient as
an address or as ``{"email", "vars"}``)."""

BRANCH_NAMES = STRING_BRANCHES | {
    "Recipient",
    "function-after[_validate_recipient(), Recipient]",
}

EITHER = "must be an address or an object with an email (and vars)"


class ProblemError(HTTPException):
    """An error answered as is, with its status and sentence."""


def field_name(location: Sequence[Any]) -> str:
    """``("body", "recipients", 3, "email")`` -> ``recipients[3].email``."""
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part in BRANCH_NAMES or part == "[key]":
            continue
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def describe_error(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    message = _MESSAGES.get(kind) or str(error.get("msg", "is not valid"))
    if kind not in _MESSAGES:
        message = message[:1].lower() + message[1:]
    return f"{field_name(error.get('loc', ()))}: {message}"


def _one_branch(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The errors of items that may be text or an object, said once: a text item's problem
    (too long...) or an object item's fields' problems, without the other branch's "must be
    a string" or "must be an object"; for an item that is neither, one line saying what it
    may be."""
    locations = [tuple(error.get("loc", ())) for error in errors]

    def text_item(item: tuple[Any, ...]) -> bool:
        return any(
            location[:-1] == item
            and location[-1] in STRING_BRANCHES
            and error.get("type") != "string_type"
            for error, location in zip(errors, locations, strict=True)
        )

    def object_item(item: tuple[Any, ...]) -> bool:
        return any(
            location[: len(item)] == item and len(location) > len(item) + 1
            for location in locations
        )

    kept: list[Mapping[str, Any]] = []
    for error, location in zip(errors, locations, strict=True):
        if not location or location[-1] not in BRANCH_NAMES:
            kept.append(error)
            continue
        item = location[:-1]
        if location[-1] in STRING_BRANCHES and error.get("type") != "string_type":
            kept.append(error)  # text, with a problem of its own
        elif not text_item(item) and not object_item(item):
            both = sum(other[:-1] == item and other[-1] in BRANCH_NAMES for other in locations)
            either = {"type": "either", "loc": item, "msg": EITHER}
            if both < 2:
                kept.append(error)  # one branch alone: its own words
            elif either not in kept:
                kept.append(either)
    return kept


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence for a list of validation errors (the first few, without repeats)."""
    lines: list[str] = []
    for error in _one_branch(errors):
        line = describe_error(error)
        if line not in lines:
            lines.append(line)
    shown = "; ".join(lines[:5])
    if len(lines) > 5:
        shown += f"; and {len(lines) - 5} more"
    return shown


def _answer(
    status_code: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=dict(headers or {}))


async def _action_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ActionError)
    return _answer(error.status_code, error.detail)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else str(error.detail)
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return _answer(error.status_code, detail, error.headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    if any(item.get("type") == "json_invalid" for item in errors):
        problem = next(item for item in errors if item.get("type") == "json_invalid")
        reason = (problem.get("ctx") or {}).get("error", "malformed")
        return _answer(400, f"the body is not valid JSON: {reason}")
    for item in errors:
        place, *rest = item.get("loc", ()) or ("",)
        if place == "path" and rest and str(rest[0]).endswith("_id"):
            parameter = str(rest[0])  # an id that cannot exist (0, negative, huge, text)
            name = request.path_params.get(parameter, "")
            return _answer(404, f"{parameter.removesuffix('_id')} {name} not found")
    return _answer(422, describe_errors(errors))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return _answer(500, "something went wrong on our side; the error is in the service's log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ActionError, _action_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
