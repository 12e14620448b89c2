"""Retrying a writer transaction that lost a deadlock or a serialization conflict.

Two fan-outs of overlapping audiences on PostgreSQL may lock the same ledger rows in
different orders; the database then aborts one of them. Nothing was committed, so
running the whole transaction again is safe.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.database import Database

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
"""deadlock_detected, serialization_failure."""


def is_retryable(error: BaseException) -> bool:
    """True for a deadlock or serialization failure (PostgreSQL), or a busy SQLite file."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(original)


async def in_transaction(
    database: Database,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = 5,
    backoff: float = 0.05,
) -> T:
    """Run ``work`` in a writer transaction, again (after a short random pause) on conflicts."""
    for attempt in range(1, attempts + 1):
        try:
            async with database.transaction() as connection:
                return await work(connection)
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            await asyncio.sleep(random.uniform(0, backoff * attempt))
    raise AssertionError("unreachable")
