"""The leases a worker holds, each with a local deadline: the one place that knows whether
a claimed delivery may still be sent.

A deadline is measured on this process's monotonic clock from a moment taken *before* the
statement that claimed or extended the lease, so it always falls before the lease's expiry
on the database's clock, whatever the two clocks say. A delivery may be sent only while
its deadline is more than the safety margin away; a worker frozen past its lease (a paused
VM, a long stall) therefore sends nothing it no longer owns when it wakes up.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from campaignd.delivery.jobs import Job

Clock = Callable[[], float]


class LeaseBook:
    def __init__(
        self, *, lease_seconds: float, margin: float, clock: Clock = time.monotonic
    ) -> None:
        self.lease_seconds = lease_seconds
        self.margin = margin
        self.clock = clock
        self._deadlines: dict[int, float] = {}
        self._campaigns: dict[int, int] = {}
        self._in_hand: Counter[int] = Counter()

    def now(self) -> float:
        """Read before a statement that takes or extends leases: their local start."""
        return self.clock()

    def hold(self, jobs: Iterable[Job], since: float) -> None:
        """``jobs`` were claimed by a statement sent at ``since``."""
        deadline = since + self.lease_seconds
        for job in jobs:
            self._deadlines[job.delivery_id] = deadline
            self._campaigns[job.delivery_id] = job.campaign_id
            self._in_hand[job.campaign_id] += 1

    def may_send(self, job: Job) -> bool:
        """Whether a transaction for ``job`` may start now: held, and with time to spare."""
        deadline = self._deadlines.get(job.delivery_id)
        return deadline is not None and self.clock() < deadline - self.margin

    def held(self) -> list[int]:
        return sorted(self._deadlines)

    def renewed(self, asked: Iterable[int], kept: set[int], since: float) -> list[int]:
        """An extension sent at ``since`` for ``asked`` kept the leases of ``kept``; the
        others were taken back and may not be sent. Returns those lost and still held."""
        deadline = since + self.lease_seconds
        lost = []
        for delivery_id in asked:
            if delivery_id not in self._deadlines:
                continue  # recorded or handed back meanwhile
            if delivery_id in kept:
                self._deadlines[delivery_id] = max(self._deadlines[delivery_id], deadline)
            else:
                self._deadlines[delivery_id] = float("-inf")
                lost.append(delivery_id)
        return lost

    def let_go(self, job: Job) -> None:
        """``job`` left this worker's hands: recorded, or handed back."""
        if self._deadlines.pop(job.delivery_id, None) is not None:
            del self._campaigns[job.delivery_id]
            self._in_hand[job.campaign_id] -= 1
            if self._in_hand[job.campaign_id] <= 0:
                del self._in_hand[job.campaign_id]

    def in_hand(self, campaign_id: int) -> int:
        """How many deliveries of ``campaign_id`` this worker holds."""
        return self._in_hand.get(campaign_id, 0)

    def __len__(self) -> int:
        return len(self._deadlines)
