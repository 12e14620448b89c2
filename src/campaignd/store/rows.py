"""Small helpers for turning result rows into plain dictionaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import CursorResult, Result

Row = dict[str, Any]


def first(result: Result[Any] | CursorResult[Any]) -> Row | None:
    row = result.mappings().first()
    return dict(row) if row is not None else None


def every(result: Result[Any] | CursorResult[Any]) -> list[Row]:
    return [dict(row) for row in result.mappings().all()]
