"""Statements on import reports: the outcome of a CSV uploaded in the admin UI, kept so the
page that shows it is a plain GET."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.rows import Row, first
from campaignd.store.schema import import_reports


async def save_report(
    connection: AsyncConnection,
    *,
    campaign_id: int,
    file_name: str | None,
    added: int,
    duplicates: int,
    invalid: list[dict[str, Any]],
    invalid_count: int,
    actor: str,
    now: datetime,
) -> int:
    statement = (
        insert(import_reports)
        .values(
            campaign_id=campaign_id,
            file_name=file_name,
            added=added,
            duplicates=duplicates,
            invalid=invalid,
            invalid_count=invalid_count,
            created_by=actor,
            created_at=now,
        )
        .returning(import_reports.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def get_report(connection: AsyncConnection, campaign_id: int, report_id: int) -> Row | None:
    """The report, if it is one of ``campaign_id``'s."""
    statement = select(import_reports).where(
        import_reports.c.id == report_id, import_reports.c.campaign_id == campaign_id
    )
    return first(await connection.execute(statement))
