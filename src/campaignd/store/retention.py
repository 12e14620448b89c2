"""Retention: the per-recipient rows of campaigns finished long ago, and the webhook
messages delivered or given up long ago, are deleted in batches.

A campaign's per-recipient rows are its deliveries and its opens and clicks
(``tracking_events``). What stays: the campaign (with the counts its rows had, in
``pruned_counts``, and the figures of its report, in ``pruned_report``), its tracked links
(they keep redirecting), its runs and their counts, the audit log, the suppression list and
the cooldown ledger, so the cooldown still holds for every person whose delivery row is
gone. Webhook messages still pending or retrying are never pruned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store import audit, webhooks
from campaignd.store.campaigns import delivery_counts
from campaignd.store.contact_status import chunked
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries, import_reports, tracking_events
from campaignd.store.tracking import report_snapshot

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
    """Delivery rows."""
    events: int = 0
    """Opens and clicks (``tracking_events``)."""


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted."""

    rows: int = 0
    """Delivery rows."""
    events: int = 0
    """Opens and clicks."""
    webhook_messages: int = 0
    webhook_attempts: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            self.rows + other.rows,
            self.events + other.events,
            self.webhook_messages + other.webhook_messages,
            self.webhook_attempts + other.webhook_attempts,
        )


IDS_PER_STATEMENT = 1000


async def _counts(connection: AsyncConnection, table: Any, ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for part in chunked(ids, IDS_PER_STATEMENT):
        statement = (
            select(table.c.campaign_id, func.count())
            .where(table.c.campaign_id.in_(list(part)))
            .group_by(table.c.campaign_id)
        )
        found.update({int(key): int(count) for key, count in await connection.execute(statement)})
    return found


async def prunable(
    connection: AsyncConnection, *, finished_before: datetime
) -> list[PrunableCampaign]:
    """Finished campaigns that ended before ``finished_before`` and still have delivery rows
    or opens and clicks (a prune cut short is taken up again), oldest first, with their
    row counts."""
    statement = (
        select(
            campaigns.c.id, campaigns.c.organization_id, campaigns.c.name, campaigns.c.finished_at
        )
        .where(
            campaigns.c.status.in_(FINISHED),
            campaigns.c.finished_at < finished_before,
            or_(
                exists().where(deliveries.c.campaign_id == campaigns.c.id),
                exists().where(tracking_events.c.campaign_id == campaigns.c.id),
            ),
        )
        .order_by(campaigns.c.finished_at, campaigns.c.id)
    )
    found = list(await connection.execute(statement))
    ids = [int(row.id) for row in found]
    rows = await _counts(connection, deliveries, ids)
    events = await _counts(connection, tracking_events, ids)
    return [
        PrunableCampaign(
            id=int(row.id),
            organization_id=int(row.organization_id),
            name=str(row.name),
            finished_at=row.finished_at,
            rows=rows.get(int(row.id), 0),
            events=events.get(int(row.id), 0),
        )
        for row in found
    ]


async def is_frozen(connection: AsyncConnection, campaign_id: int) -> bool:
    value = await connection.scalar(
        select(campaigns.c.pruned_counts.is_not(None)).where(campaigns.c.id == campaign_id)
    )
    return bool(value)


async def freeze_counts(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    now: datetime,
    report: dict[str, Any] | None = None,
) -> None:
    """Keep the campaign's counts per status (and ``report``, its report's figures) before
    its rows go (once: a prune taken up again keeps those of the first)."""
    counts = (await delivery_counts(connection, [campaign_id]))[campaign_id]
    await connection.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.pruned_counts.is_(None))
        .values(pruned_counts=counts, pruned_at=now, pruned_report=report)
    )
    await connection.execute(
        delete(import_reports).where(import_reports.c.campaign_id == campaign_id)
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


async def delete_events_batch(connection: AsyncConnection, campaign_id: int, *, rows: int) -> int:
    """Delete up to ``rows`` opens and clicks of the campaign; returns how many went."""
    some = (
        select(tracking_events.c.id)
        .where(tracking_events.c.campaign_id == campaign_id)
        .order_by(tracking_events.c.id)
        .limit(rows)
    )
    result = await connection.execute(delete(tracking_events).where(tracking_events.c.id.in_(some)))
    return int(result.rowcount)


async def _in_batches(
    database: Database,
    step: Any,
    campaign_id: int,
    *,
    batch_rows: int,
    on_rows: Callable[[int], None] | None,
) -> int:
    deleted = 0
    while True:
        async with database.transaction() as connection:
            batch = int(await step(connection, campaign_id, rows=batch_rows))
        deleted += batch
        if on_rows is not None and batch:
            on_rows(batch)
        if batch < batch_rows:
            return deleted


async def prune(
    database: Database,
    campaigns_to_prune: list[PrunableCampaign],
    *,
    actor: str,
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Pruned:
    """Delete the delivery rows, then the opens and clicks, of ``campaigns_to_prune``, a
    batch per short transaction (no long lock; sending goes on meanwhile). Before the first
    row goes, the campaign's counts and report figures are kept (read outside the writer
    transaction). ``on_rows`` hears of each batch. Each campaign's prune is in the audit
    log."""
    total = Pruned()
    for campaign in campaigns_to_prune:
        report: dict[str, Any] | None = None
        async with database.connection() as connection:
            if not await is_frozen(connection, campaign.id):
                started_at = await connection.scalar(
                    select(campaigns.c.started_at).where(campaigns.c.id == campaign.id)
                )
                report = await report_snapshot(connection, campaign.id, started_at)
        async with database.transaction() as connection:
            await freeze_counts(connection, campaign.id, now=now, report=report)
        rows = await _in_batches(
            database, delete_batch, campaign.id, batch_rows=batch_rows, on_rows=on_rows
        )
        # after the deliveries: an open or click is recorded only for a delivery that exists
        events = await _in_batches(
            database, delete_events_batch, campaign.id, batch_rows=batch_rows, on_rows=on_rows
        )
        async with database.transaction() as connection:
            await audit.record(
                connection,
                actor=actor,
                action="campaign.prune",
                organization_id=campaign.organization_id,
                target=str(campaign.id),
                detail={
                    "rows": rows,
                    "events": events,
                    "finished_at": campaign.finished_at.isoformat(),
                },
            )
        total += Pruned(rows=rows, events=events)
    return total


async def prune_webhook_messages(
    database: Database,
    *,
    before: datetime,
    actor: str,
    on_rows: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Pruned:
    """Delete the webhook messages delivered or given up whose last attempt was due before
    ``before``, with their attempts, a batch per short transaction; pending and retrying
    ones stay. ``on_rows`` hears of each batch (messages and attempts); one audit entry."""
    messages = attempts = 0
    while True:
        async with database.transaction() as connection:
            batch, tries = await webhooks.delete_finished(
                connection, before=before, rows=batch_rows
            )
        messages += batch
        attempts += tries
        if on_rows is not None and batch + tries:
            on_rows(batch + tries)
        if batch < batch_rows:
            break
    if messages:
        async with database.transaction() as connection:
            await audit.record(
                connection,
                actor=actor,
                action="webhooks.prune",
                detail={"messages": messages, "attempts": attempts, "before": before.isoformat()},
            )
    return Pruned(webhook_messages=messages, webhook_attempts=attempts)
