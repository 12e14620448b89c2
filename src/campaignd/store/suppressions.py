"""Statements on an organization's suppression list (addresses that are never mailed).

Every write here also brings the organization's contacts into line
(``store.contact_status``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import utcnow
from campaignd.store.contact_status import (
    contacts_follow_suppressions,
    contacts_follow_suppressions_of,
)
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.erasure import erased_among
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import suppressions


async def _count(connection: AsyncConnection, organization_id: int, emails: Sequence[str]) -> int:
    statement = select(func.count()).where(
        suppressions.c.organization_id == organization_id,
        suppressions.c.email.in_(list(emails)),
    )
    return int((await connection.execute(statement)).scalar_one())


async def add_suppressions(
    connection: AsyncConnection,
    *,
    organization_id: int,
    emails: Sequence[str],
    reason: str,
    now: datetime,
    detail: str | None = None,
) -> int:
    """Suppress normalised ``emails``; an address already there keeps its first reason, and
    one the organization erased is not stored again (it is never mailed already).

    Returns how many addresses were newly suppressed.
    """
    unique = list(dict.fromkeys(emails))
    erased = await erased_among(connection, organization_id, unique)
    unique = [email for email in unique if email not in erased]
    if not unique:
        return 0
    before = await _count(connection, organization_id, unique)
    statement = insert_ignoring_conflicts(
        connection.dialect.name, suppressions, ["organization_id", "email"]
    )
    rows = [
        {
            "organization_id": organization_id,
            "email": email,
            "reason": reason,
            "detail": detail,
            "created_at": now,
        }
        for email in unique
    ]
    await connection.execute(statement, rows)
    await contacts_follow_suppressions(
        connection, organization_id=organization_id, emails=unique, now=now
    )
    return len(unique) - before


async def suppress_outcomes(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], *, now: datetime
) -> None:
    """Insert suppression rows (``organization_id``, ``email``, ``reason``, ``detail``,
    ``created_at``) of any organizations at once; an address already suppressed keeps its
    entry. For the delivery workers, which suppress bounces of several campaigns together.
    """
    if not rows:
        return
    statement = insert_ignoring_conflicts(
        connection.dialect.name, suppressions, ["organization_id", "email"]
    )
    await connection.execute(statement, list(rows))
    await contacts_follow_suppressions_of(
        connection, [(int(row["organization_id"]), str(row["email"])) for row in rows], now=now
    )


async def remove_suppressions(
    connection: AsyncConnection,
    *,
    organization_id: int,
    emails: Sequence[str],
    now: datetime | None = None,
) -> int:
    """Take ``emails`` off the list; returns how many were on it. Their contacts become
    ``subscribed`` again."""
    if not emails:
        return 0
    statement = delete(suppressions).where(
        suppressions.c.organization_id == organization_id,
        suppressions.c.email.in_(list(emails)),
    )
    removed = (await connection.execute(statement)).rowcount
    if removed:
        await contacts_follow_suppressions(
            connection, organization_id=organization_id, emails=emails, now=now or utcnow()
        )
    return removed


async def get_suppression(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> Row | None:
    """The suppression entry of one address (reason, detail, when), or None."""
    statement = select(suppressions).where(
        suppressions.c.organization_id == organization_id, suppressions.c.email == email
    )
    return first(await connection.execute(statement))


async def is_suppressed(connection: AsyncConnection, *, organization_id: int, email: str) -> bool:
    statement = select(suppressions.c.email).where(
        suppressions.c.organization_id == organization_id, suppressions.c.email == email
    )
    return (await connection.execute(statement)).first() is not None


async def list_suppressions(
    connection: AsyncConnection,
    *,
    organization_id: int,
    reason: str | None = None,
    after_email: str | None = None,
    limit: int = 100,
) -> list[Row]:
    """In address order; ``after_email`` is the cursor (the last address of the previous page)."""
    conditions = [suppressions.c.organization_id == organization_id]
    if reason is not None:
        conditions.append(suppressions.c.reason == reason)
    if after_email is not None:
        conditions.append(suppressions.c.email > after_email)
    statement = select(suppressions).where(*conditions).order_by(suppressions.c.email).limit(limit)
    return every(await connection.execute(statement))
