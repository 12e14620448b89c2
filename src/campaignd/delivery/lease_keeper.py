"""The lease keeper: every third of ``LEASE_SECONDS`` it extends the leases this worker
holds (only those ids; the answer says which are still held, the rest are never sent),
hands back what was set aside, takes back expired leases of silent workers, re-reads
which campaigns are sending, and refreshes run counts and the queue gauge.

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
from campaignd.store import queue, runs

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
            await self._upkeep()

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

    async def _upkeep(self) -> None:
        try:
            campaigns = await self.feeder.refresh_campaigns()
            for campaign in campaigns:
                async with self.database.transaction() as connection:
                    await runs.refresh_run_counts(connection, int(campaign["id"]))
            async with self.database.connection() as connection:
                metrics.queue_depth.set(await queue.queue_depth(connection))
        except Exception as error:
            log_event(logger, "run counts not refreshed", level=logging.ERROR, error=repr(error))
