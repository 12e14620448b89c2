"""The audit log: every change, with its actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import utcnow
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import audit_log


async def record(
    connection: AsyncConnection,
    *,
    actor: str,
    action: str,
    organization_id: int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Write one entry; returns its id."""
    statement = (
        insert(audit_log)
        .values(
            at=utcnow(),
            actor=actor,
            action=action,
            organization_id=organization_id,
            target=target,
            detail=detail,
        )
        .returning(audit_log.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def recent(connection: AsyncConnection, *, limit: int = 100) -> list[Row]:
    statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    return every(await connection.execute(statement))


async def entry(
    connection: AsyncConnection, entry_id: int, *, action: str, organization_id: int | None
) -> Row | None:
    """The entry ``entry_id`` if it records ``action``; with ``organization_id``, only if
    it is that organization's (None: any organization's)."""
    conditions: list[ColumnElement[bool]] = [
        audit_log.c.id == entry_id,
        audit_log.c.action == action,
    ]
    if organization_id is not None:
        conditions.append(audit_log.c.organization_id == organization_id)
    return first(await connection.execute(select(audit_log).where(*conditions)))
