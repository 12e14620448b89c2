"""What one worker holds, shared by its parts: the local queue of claimed deliveries, their
leases, the campaigns it may send for, and the deliveries set aside to be handed back.

Every claimed delivery leaves the worker's hands exactly once: recorded (``done_with``
once its outcome is committed) or set aside and handed back unsent (``set_aside``). No path
forgets one: a delivery that is neither stays leased and its lease keeps being extended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from campaignd.delivery.jobs import Job
from campaignd.delivery.leases import LeaseBook
from campaignd.delivery.sending_campaigns import SendingCampaigns
from campaignd.logs import log_event
from campaignd.store import queue
from campaignd.store.database import Database

logger = logging.getLogger("campaignd.delivery")


class Hands:
    def __init__(self, database: Database, *, owner: str, leases: LeaseBook, capacity: int) -> None:
        self.database = database
        self.owner = owner
        self.leases = leases
        self.capacity = capacity
        self.campaigns = SendingCampaigns()
        self.organizations: dict[int, int] = {}
        self.jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        self.room = asyncio.Event()
        self.stopping = False
        self._aside: list[Job] = []

    def reset(self) -> None:
        """A fresh queue for a new run of the worker."""
        self.stopping = False
        self.jobs = asyncio.Queue()
        self.room = asyncio.Event()

    def take(self, jobs: Sequence[Job], since: float) -> None:
        """Claimed by a statement sent at ``since``: hold their leases and queue them."""
        self.leases.hold(jobs, since)
        for job in jobs:
            self.jobs.put_nowait(job)

    def sendable(self, job: Job) -> bool:
        """Whether a transaction for ``job`` may start now (a local check, no database)."""
        return not self.stopping and job.campaign_id in self.campaigns and self.leases.may_send(job)

    def done_with(self, job: Job) -> None:
        """``job``'s outcome is committed (or could not be)."""
        self.leases.let_go(job)
        self._left_queue()

    def set_aside(self, job: Job) -> None:
        """``job`` will not be sent by this worker: it is handed back at the next chance."""
        self.leases.let_go(job)
        self._aside.append(job)
        self._left_queue()

    def stop_signal_taken(self) -> None:
        self.jobs.task_done()

    def _left_queue(self) -> None:
        self.jobs.task_done()
        if self.jobs.qsize() < self.capacity // 2:
            self.room.set()

    def half_full(self) -> bool:
        return self.jobs.qsize() >= self.capacity // 2

    async def wait_for_room(self) -> None:
        self.room.clear()
        if self.half_full():
            await self.room.wait()

    async def hand_back_set_aside(self) -> int:
        """Hand back what was set aside; on an error they stay set aside for the next try
        (their leases, no longer extended, run out meanwhile: nothing is stuck)."""
        aside, self._aside = self._aside, []
        if not aside:
            return 0
        try:
            async with self.database.transaction() as connection:
                return await queue.hand_back(
                    connection, [job.delivery_id for job in aside], owner=self.owner
                )
        except Exception as error:
            self._aside.extend(aside)
            log_event(logger, "handing back failed", level=logging.ERROR, error=repr(error))
            return 0

    async def hand_back_everything(self) -> int:
        """A graceful stop: hand back every delivery this owner still holds."""
        self._aside = []
        try:
            async with self.database.transaction() as connection:
                return await queue.hand_back_all(connection, owner=self.owner)
        except Exception as error:
            log_event(logger, "handing back failed", level=logging.ERROR, error=repr(error))
            return 0
