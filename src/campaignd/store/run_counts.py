"""Live runs' counts, refreshed in turns by the lease keepers of all instances.

A run's counts (``queued``, ``sent``, ``failed``, ``skipped``) are counted from its
campaign's deliveries, which reads every one of them: 0.2 s for 2 M, seconds for 10 M. Each
instance's lease keeper refreshes them every ``LEASE_SECONDS / 3``; without turns, eight
instances counted a sending campaign eight times a period. A turn is taken by a
compare-and-set on ``runs.counted_at``: the keeper that moves it first counts, the others
find it moved and leave the count to it until the next period. A count that took long is
made at most every ``COST_FACTOR`` times its cost (``runs.count_seconds``), so counting a
campaign, however large it grows, takes at most a tenth of a database core in all.

The ``campaignd_queue_depth`` gauge is read from the same counts (``queued_as_counted``),
not counted again by every instance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.rows import first
from campaignd.store.schema import campaigns, runs

COST_FACTOR = 10.0
"""A run is counted again at the earliest this many times its last count's seconds later."""
EARLY = 0.9
"""A turn is due a little before a whole period has passed: the keeper that counted last
wakes a period later, give or take the time its other upkeep took."""


async def take_turn(
    connection: AsyncConnection, campaign_id: int, *, period_seconds: float, now: datetime
) -> bool:
    """Whether this keeper counts the campaign's live run now: true for one keeper a period."""
    statement = select(runs.c.id, runs.c.counted_at, runs.c.count_seconds).where(
        runs.c.campaign_id == campaign_id, runs.c.live
    )
    run = first(await connection.execute(statement))
    if run is None:
        return False
    counted_at: datetime | None = run["counted_at"]
    if counted_at is not None:
        wait = max(period_seconds * EARLY, COST_FACTOR * float(run["count_seconds"] or 0.0))
        if now < counted_at + timedelta(seconds=wait):
            return False
    unchanged = (
        runs.c.counted_at.is_(None) if counted_at is None else runs.c.counted_at == counted_at
    )
    taken = await connection.execute(
        update(runs).where(runs.c.id == run["id"], runs.c.live, unchanged).values(counted_at=now)
    )
    return taken.rowcount == 1


async def queued_as_counted(connection: AsyncConnection) -> int:
    """Deliveries queued or being sent in started campaigns, as their live runs last counted
    them (the ``campaignd_queue_depth`` gauge)."""
    statement = (
        select(func.coalesce(func.sum(runs.c.queued), 0))
        .select_from(runs.join(campaigns, campaigns.c.id == runs.c.campaign_id))
        .where(
            runs.c.live,
            campaigns.c.status.in_([CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value]),
            campaigns.c.fanned_out_at.is_not(None),
        )
    )
    return int((await connection.execute(statement)).scalar_one())
