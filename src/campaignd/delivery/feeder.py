"""The feeder: claims batches of the sending campaigns into the worker's local queue.

Each round re-reads which campaigns are sending, shares the free room among them (turn by
turn, so a big campaign cannot starve a small one), skips what was suppressed since the
fan-out, and finishes campaigns with nothing left. It claims again when the queue drops
below half full, when woken, or after a second (a round every second at the least, so the
sending set is fresh even when no halt reached this process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd import metrics
from campaignd.delivery.builders import Builders
from campaignd.delivery.claim_cursors import ClaimCursors
from campaignd.delivery.finishing import finish_if_done
from campaignd.delivery.hands import Hands
from campaignd.delivery.jobs import Job
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow
from campaignd.store.ledger import scope_of
from campaignd.store.rows import Row
from campaignd.wakeups import Wakeups

logger = logging.getLogger("campaignd.delivery")

IDLE_SECONDS = 1.0
DUE_MARGIN = 0.001  # wake this long after a due instant, so the delivery is due
UNCLAIMED_PAUSE = 0.05
BURST_RETRY_HORIZON = 10.0  # a burst waits for retries due within this many seconds


class Feeder:
    def __init__(
        self,
        hands: Hands,
        settings: Settings,
        *,
        builders: Builders,
        wakeups: Wakeups,
    ) -> None:
        self.hands = hands
        self.database = hands.database
        self.settings = settings
        self.builders = builders
        self.wakeups = wakeups
        self._turn = 0
        self._cursors = ClaimCursors()

    async def run_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = await self._round_safely()
            if self.hands.half_full():
                # a round at least every second re-reads the sending campaigns: a pause from
                # a process that cannot announce it (the CLI without Redis) takes hold too
                await first_of(stop.wait(), self.hands.wait_for_room(), asyncio.sleep(IDLE_SECONDS))
            elif claimed == 0:
                # a delivery due within the second (a local-time wave, a send window
                # opening) is claimed at its instant, not at the next idle round
                idle = min(IDLE_SECONDS, max(0.0, await self._next_due_in_safely()))
                await first_of(stop.wait(), self.wakeups.wait("workers", idle))

    async def run_burst(self) -> None:
        """Claim everything claimable now (and retries due soon), then return."""
        while True:
            claimed = await self._round_safely()
            if claimed:
                if self.hands.half_full():
                    await self.hands.wait_for_room()
                continue
            await self.hands.jobs.join()
            if await self._round_safely():
                continue
            due = await self._next_retry_in()
            if due is None or due > BURST_RETRY_HORIZON:
                return
            await asyncio.sleep(max(0.0, due))

    async def refresh_campaigns(self) -> list[Row]:
        """Re-read which campaigns are sending (a halt heard meanwhile still counts)."""
        reading = self.hands.campaigns.reading()
        async with self.database.connection() as connection:
            campaigns = await queue.sending_campaigns(connection)
        self.hands.campaigns.update((int(row["id"]) for row in campaigns), reading)
        return [row for row in campaigns if int(row["id"]) in self.hands.campaigns]

    async def _next_retry_in(self) -> float | None:
        now = utcnow()
        async with self.database.connection() as connection:
            due = await queue.next_retry_at(connection, now=now)
        return None if due is None else (due - now).total_seconds()

    async def _next_due_in_safely(self) -> float:
        try:
            due = await self._next_retry_in()
        except Exception as error:
            log_event(
                logger, "reading the next due time failed", level=logging.ERROR, error=repr(error)
            )
            return IDLE_SECONDS
        if due is None:
            return IDLE_SECONDS
        # due already but not claimed here (its campaign halted in this process): no spin
        return due + DUE_MARGIN if due > 0 else UNCLAIMED_PAUSE

    async def _round_safely(self) -> int:
        try:
            return await self._round()
        except Exception as error:
            log_event(logger, "claiming failed", level=logging.ERROR, error=repr(error))
            await asyncio.sleep(IDLE_SECONDS)
            return 0

    async def _round(self) -> int:
        """Claim for every sending campaign a share of the free room."""
        campaigns = await self.refresh_campaigns()
        await self.hands.hand_back_set_aside()
        campaigns = await self._with_something_due(campaigns)
        if not campaigns:
            return 0
        self._turn = (self._turn + 1) % len(campaigns)
        campaigns = campaigns[self._turn :] + campaigns[: self._turn]
        claimed = 0
        for position, campaign in enumerate(campaigns):
            room = self.hands.capacity - self.hands.jobs.qsize()
            if room <= 0:
                break
            share = max(1, room // (len(campaigns) - position))
            claimed += await self._claim(campaign, min(share, self.settings.batch_size))
        return claimed

    async def _with_something_due(self, campaigns: list[Row]) -> list[Row]:
        """Leave out local-time and send-window campaigns that wait for a later wave or
        window (``queue.waiting_campaigns``): hours of them must not slow every round."""
        timed = [int(row["id"]) for row in campaigns if row["timed"]]
        if not timed:
            return campaigns
        async with self.database.connection() as connection:
            waiting = await queue.waiting_campaigns(connection, timed, now=utcnow())
        return [row for row in campaigns if int(row["id"]) not in waiting]

    async def _claim(self, campaign: Row, limit: int) -> int:
        campaign_id, organization_id = int(campaign["id"]), int(campaign["organization_id"])
        self.hands.organizations[campaign_id] = organization_id
        builder = await self.builders.load(campaign_id)
        now = utcnow()
        since = self.hands.leases.now()
        # every delivery below the campaign's mark is final (store.unfinished): the start
        start = max(0, int(campaign["unfinished_from_id"] or 0) - 1)
        after = max(self._cursors.after(campaign_id), start)
        async with self.database.transaction() as connection:
            rows = await self._claim_after(connection, campaign_id, limit, now, after)
            if not rows and after > start:  # nothing after the cursor: from the start
                rows = await self._claim_after(connection, campaign_id, limit, now, start)
            self._cursors.claimed(campaign_id, [int(row["id"]) for row in rows], limit=limit)
            if not rows:
                if self.hands.leases.in_hand(campaign_id) == 0:
                    await finish_if_done(connection, campaign_id, now=now, builders=self.builders)
                return 0
            suppressed = await queue.suppressed_among(
                connection, organization_id, [str(row["email"]) for row in rows]
            )
            skipped = {
                int(row["id"]): (str(row["email"]), suppressed[str(row["email"])])
                for row in rows
                if str(row["email"]) in suppressed
            }
            await queue.skip_suppressed(
                connection,
                skipped,
                campaign_id=campaign_id,
                owner=self.hands.owner,
                scope=scope_of(self.settings.cooldown_scope, organization_id),
            )
        if skipped:
            metrics.deliveries.labels(outcome="skipped").inc(len(skipped))
            log_event(logger, "suppressed before send", campaign_id=campaign_id, count=len(skipped))
        jobs = [
            Job(
                delivery_id=int(row["id"]),
                campaign_id=campaign_id,
                email=str(row["email"]),
                variables=row["variables"],
                attempts=int(row["attempts"]),
            )
            for row in rows
            if int(row["id"]) not in skipped
        ]
        if builder is None:  # the campaign is gone: nothing to send
            await self._hand_back(jobs)
            return 0
        self.hands.take(jobs, since)
        return len(jobs)

    async def _claim_after(
        self, connection: AsyncConnection, campaign_id: int, limit: int, now: datetime, after: int
    ) -> list[Row]:
        return await queue.claim_batch(
            connection,
            campaign_id,
            owner=self.hands.owner,
            limit=limit,
            now=now,
            lease_seconds=self.settings.lease_seconds,
            after_id=after,
        )

    async def _hand_back(self, jobs: list[Job]) -> None:
        if jobs:
            async with self.database.transaction() as connection:
                await queue.hand_back(
                    connection, [job.delivery_id for job in jobs], owner=self.hands.owner
                )


async def first_of(*waits: Awaitable[Any]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
