"""Retention: the per-recipient rows of campaigns finished long ago are deleted in batches.

What stays: the campaign (with the counts its rows had, in ``pruned_counts``), its runs and
their counts, the audit log, the suppression list and the cooldown ledger, so the cooldown
still holds for every person whose delivery row is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store import audit
from campaignd.store.campaigns import delivery_counts
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries, import_reports, tracking_events

FINISHED = (
    CampaignStatus.SENT.value,
    CampaignStatus.FAILED.value,
    CampaignStatus.CANCELLED.value,
)
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class PrunableCampaign:
    id: int
    organization_id: int
    name: str
    finished_at: datetime
    rows: int


async def prunable(
    connection: AsyncConnection, *, finished_before: datetime
) -> list[PrunableCampaign]:
    """Finished campaigns that ended before ``finished_before`` and still have delivery rows
    (a prune cut short is taken up again), oldest first, with their row counts."""
    rows = (
        select(deliveries.c.campaign_id, func.count().label("rows"))
        .group_by(deliveries.c.campaign_id)
        .subquery()
    )
    statement = (
        select(
            campaigns.c.id,
            campaigns.c.organization_id,
            campaigns.c.name,
            campaigns.c.finished_at,
            rows.c.rows,
        )
        .join(rows, rows.c.campaign_id == campaigns.c.id)
        .where(
            campaigns.c.status.in_(FINISHED),
            campaigns.c.finished_at < finished_before,
            exists().where(deliveries.c.campaign_id == campaigns.c.id),
        )
        .order_by(campaigns.c.finished_at, campaigns.c.id)
    )
    return [
        PrunableCampaign(
            id=int(row.id),
            organization_id=int(row.organization_id),
            name=str(row.name),
            finished_at=row.finished_at,
            rows=int(row.rows),
        )
        for row in await connection.execute(statement)
    ]


async def freeze_counts(connection: AsyncConnection, campaign_id: int, *, now: datetime) -> None:
    """Keep the campaign's counts per status before its rows go (once: a prune taken up
    again keeps the counts of the first)."""
    counts = (await delivery_counts(connection, [campaign_id]))[campaign_id]
    await connection.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.pruned_counts.is_(None))
        .values(pruned_counts=counts, pruned_at=now)
    )
    await connection.execute(
        delete(import_reports).where(import_reports.c.campaign_id == campaign_id)
    )
    await connection.execute(
        delete(tracking_events).where(tracking_events.c.campaign_id == campaign_id)
    )


async def delete_batch(connection: AsyncConnection, campaign_id: int, *, rows: int) -> int:
    """Delete up to ``rows`` delivery rows of the campaign; returns how many went."""
    some = (
        select(deliveries.c.id)
        .where(deliveries.c.campaign_id == campaign_id)
        .order_by(deliveries.c.id)
        .limit(rows)
    )
    result = await connection.execute(delete(deliveries).where(deliveries.c.id.in_(some)))
    return int(result.rowcount)


async def prune(
    database: Database,
    campaigns_to_prune: list[PrunableCampaign],
    *,
    actor: str,
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Delete the delivery rows of ``campaigns_to_prune``, a batch per short transaction
    (no long lock; sending goes on meanwhile). Returns the rows deleted; ``on_rows`` hears
    of each batch. Each campaign's prune is in the audit log."""
    total = 0
    for campaign in campaigns_to_prune:
        async with database.transaction() as connection:
            await freeze_counts(connection, campaign.id, now=now)
        deleted = 0
        while True:
            async with database.transaction() as connection:
                batch = await delete_batch(connection, campaign.id, rows=batch_rows)
            deleted += batch
            if on_rows is not None and batch:
                on_rows(batch)
            if batch < batch_rows:
                break
        async with database.transaction() as connection:
            await audit.record(
                connection,
                actor=actor,
                action="campaign.prune",
                organization_id=campaign.organization_id,
                target=str(campaign.id),
                detail={"rows": deleted, "finished_at": campaign.finished_at.isoformat()},
            )
        total += deleted
    return total
