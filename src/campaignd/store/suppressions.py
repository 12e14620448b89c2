"""Statements on an organization's suppression list (addresses that are never mailed).

Every write here also brings the organization's contacts into line
(``store.contact_status``), in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, delete, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import Identifier, UtcDateTime, utcnow
from campaignd.store.contact_status import (
    contacts_follow_suppressions,
    contacts_follow_suppressions_of,
)
from campaignd.store.dialect import (
    insert_ignoring_conflicts,
    iso_utc_text,
    object_entries,
    refresh_statistics,
    upsert,
)
from campaignd.store.erasure import erased_among
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import suppressions

ExportedSuppression = tuple[str, str, str]
"""``(email, reason, created_at)``, the time as ISO 8601 in UTC (``2026-12-01T08:30:00Z``)."""


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
    entries = dict.fromkeys(emails, reason)
    return await add_suppression_entries(
        connection, organization_id=organization_id, entries=entries, now=now, detail=detail
    )


async def add_suppression_entries(
    connection: AsyncConnection,
    *,
    organization_id: int,
    entries: Mapping[str, str],
    now: datetime,
    detail: str | None = None,
) -> int:
    """Suppress each normalised address of ``entries`` with its reason, in one statement;
    an address already there keeps its first reason, an erased one is left out, and the
    contacts of the addresses take the status of their suppression. Returns how many were
    newly suppressed (the rows the insert returned, so a concurrent insert of the same
    address is not counted twice)."""
    erased = await erased_among(connection, organization_id, list(entries))
    entries = {email: reason for email, reason in entries.items() if email not in erased}
    if not entries:
        return 0
    dialect = connection.dialect.name
    source = object_entries(dialect, bindparam("entries", json.dumps(entries), type_=Text()))
    rows = select(
        literal(organization_id, Identifier),
        source.c.key,
        source.c.value,
        literal(detail, Text()),
        literal(now, UtcDateTime()),
    ).where(true())  # SQLite reads ON CONFLICT after a SELECT only when it has a WHERE
    statement = (
        upsert(dialect, suppressions)
        .from_select(["organization_id", "email", "reason", "detail", "created_at"], rows)
        .on_conflict_do_nothing(index_elements=["organization_id", "email"])
        .returning(suppressions.c.email)
    )
    added = len((await connection.execute(statement)).all())
    await contacts_follow_suppressions(
        connection, organization_id=organization_id, emails=list(entries), now=now
    )
    return added


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


async def export_page(
    connection: AsyncConnection,
    *,
    organization_id: int,
    reason: str | None = None,
    after_email: str | None = None,
    limit: int = 5_000,
) -> list[ExportedSuppression]:
    """The next ``limit`` entries after ``after_email``, in address order (keyset pages on
    the primary key, so every page costs the same however far into the list it is); the
    database writes the times as text, so a page makes no Python datetime."""
    conditions = [suppressions.c.organization_id == organization_id]
    if reason is not None:
        conditions.append(suppressions.c.reason == reason)
    if after_email is not None:
        conditions.append(suppressions.c.email > after_email)
    created_at = iso_utc_text(connection.dialect.name, suppressions.c.created_at)
    statement = (
        select(suppressions.c.email, suppressions.c.reason, created_at)
        .where(*conditions)
        .order_by(suppressions.c.email)
        .limit(limit)
    )
    result = await connection.execute(statement)
    return [(email, reason, time) for email, reason, time in result.all()]


async def count_suppressions(
    connection: AsyncConnection, *, organization_id: int, reason: str | None = None
) -> int:
    conditions = [suppressions.c.organization_id == organization_id]
    if reason is not None:
        conditions.append(suppressions.c.reason == reason)
    statement = select(func.count()).select_from(suppressions).where(*conditions)
    return int((await connection.execute(statement)).scalar_one())


async def after_bulk_load(connection: AsyncConnection) -> None:
    """Fresh planner statistics once many addresses were added at once."""
    await refresh_statistics(connection, suppressions)
