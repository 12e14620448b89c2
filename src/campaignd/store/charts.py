"""Figures for the admin UI's charts, aggregated in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.schema import deliveries


def _hour_of_sent_at(dialect: str) -> ColumnElement[str]:
    """``sent_at`` truncated to the hour (UTC), as text ``YYYY-MM-DD HH``."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", deliveries.c.sent_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", deliveries.c.sent_at)


async def sent_per_hour(
    connection: AsyncConnection, campaign_id: int
) -> list[tuple[datetime, int]]:
    """Messages of a campaign sent in each hour (UTC), oldest first; hours with none left out."""
    hour = _hour_of_sent_at(connection.dialect.name).label("hour")
    statement = (
        select(hour, func.count())
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == DeliveryStatus.SENT.value,
            deliveries.c.sent_at.is_not(None),
        )
        .group_by(hour)
        .order_by(hour)
    )
    return [
        (datetime.strptime(str(text), "%Y-%m-%d %H").replace(tzinfo=UTC), int(count))
        for text, count in (await connection.execute(statement)).all()
    ]
