"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

Identifier = BigInteger().with_variant(Integer(), "sqlite")
Attributes = JSON().with_variant(JSONB(), "postgresql")
"""A JSON object: ``jsonb`` on PostgreSQL (typed operators for segment filters), JSON text
on SQLite (read with JSON1)."""


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as UTC, returned timezone-aware; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every time carries an offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Clock:
    """The process's reading of now: the system clock, moved by ``shift`` (zero unless a
    rehearsal or a test sets it, to see tomorrow's local-time waves and send windows go by
    without waiting for them)."""

    shift = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + Clock.shift
