"""The audit log: every change, with its actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import utcnow
from campaignd.store.rows import Row, every
from campaignd.store.schema import audit_log


async def record(
    connection: AsyncConnection,
    *,
    actor: str,
    action: str,
    organization_id: int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await connection.execute(
        insert(audit_log).values(
            at=utcnow(),
            actor=actor,
            action=action,
            organization_id=organization_id,
            target=target,
            detail=detail,
        )
    )


async def recent(connection: AsyncConnection, *, limit: int = 100) -> list[Row]:
    statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    return every(await connection.execute(statement))
