"""The lease keeper: every third of ``LEASE_SECONDS`` it extends the leases this worker
holds (only those ids; the answer says which are still held, the rest are never sent),
hands back what was set aside, takes back expired leases of silent workers, re-reads
which campaigns are sending, and refreshes run counts (in turns with the other instances'
keepers: ``store.run_counts``) and the queue gauge.

Each of these is its own transaction, so a failure of one (a slow count) never drops the
extension of the leases.
"""

from __future__ import annotations

import asyncio
import logging

from campaignd import metrics
from campaignd.delivery.feeder import Feeder
from campaignd.delivery.hands import Hands
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import queue, run_counts, runs
from campaignd.store.columns import utcnow

logger = logging.getLogger("campaignd.delivery")


class LeaseKeeper:
    def __init__(self, hands: Hands, settings: Settings, *, feeder: Feeder) -> None:
        self.hands = hands
        self.database = hands.database
        self.settings = settings
        self.feeder = feeder

    async def run(self) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await self.extend()
            await self.hands.hand_back_set_aside()
            await self.recover()
            await self.upkeep()

    async def extend(self) -> None:
        asked = self.hands.leases.held()
        if not asked:
            return
        since = self.hands.leases.now()
        try:
            async with self.database.transaction() as connection:
                kept = await queue.extend_leases(
                    connection,
                    asked,
                    owner=self.hands.owner,
                    lease_seconds=self.settings.lease_seconds,
                )
        except Exception as error:
            log_event(logger, "extending leases failed", level=logging.ERROR, error=repr(error))
            return
        lost = self.hands.leases.renewed(asked, kept, since)
        if lost:
            log_event(logger, "leases lost", level=logging.WARNING, count=len(lost))

    async def recover(self) -> None:
        try:
            async with self.database.transaction() as connection:
                recovered = await queue.recover_expired_leases(connection)
        except Exception as error:
            log_event(logger, "lease recovery failed", level=logging.ERROR, error=repr(error))
            return
        if recovered:
            log_event(logger, "expired leases recovered", count=recovered)

    async def upkeep(self) -> None:
        """Re-read the sending campaigns, refresh their run counts when it is this keeper's
        turn, and the queue gauge."""
        try:
            campaigns = await self.feeder.refresh_campaigns()
            for campaign in campaigns:
                await self._count(int(campaign["id"]))
            async with self.database.connection() as connection:
                metrics.queue_depth.set(await run_counts.queued_as_counted(connection))
        except Exception as error:
            log_event(logger, "run counts not refreshed", level=logging.ERROR, error=repr(error))

    async def _count(self, campaign_id: int) -> None:
        """Refresh the campaign's live run counts when it is this keeper's turn."""
        async with self.database.transaction() as connection:
            mine = await run_counts.take_turn(
                connection,
                campaign_id,
                period_seconds=self.settings.lease_seconds / 3,
                now=utcnow(),
            )
        if mine:
            async with self.database.transaction() as connection:
                await runs.refresh_run_counts(connection, campaign_id)
