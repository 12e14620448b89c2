"""The database's clock, which judges lease expiry.

Leases are compared with one clock only: PostgreSQL's ``now()`` (shared by every instance,
whatever their own clocks say); an embedded SQLite file has one sending process on one
host, whose clock is the database's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, literal
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import UtcDateTime, utcnow


def database_now(connection: AsyncConnection) -> ColumnElement[datetime]:
    """Now, on the database's clock (PostgreSQL: the start of the current transaction)."""
    if connection.dialect.name == "postgresql":
        return func.now()
    return literal(utcnow(), UtcDateTime)


def lease_expiry(connection: AsyncConnection, lease_seconds: float) -> ColumnElement[datetime]:
    """When a lease taken or extended now runs out, on the database's clock."""
    if connection.dialect.name == "postgresql":
        return func.now() + timedelta(seconds=lease_seconds)
    return literal(utcnow() + timedelta(seconds=lease_seconds), UtcDateTime)
