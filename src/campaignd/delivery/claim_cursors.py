"""Where each campaign's next claim starts: after the last delivery this process claimed.

A claim takes the lowest queued ids of a campaign (``store.queue.claim_batch``). On
PostgreSQL the planner often walks the primary key in id order and filters on the status,
so without a starting point every claim of a large campaign walked again over every
delivery the campaign had already sent: 10 M recipients made each claim slower than the
one before. From the last id claimed, a claim reads about as many rows as it takes.

A delivery below the cursor can be queued again (a retry, or one whose lease ran out), so
the cursor starts over whenever a claim finds fewer deliveries than it asked for, and at the
latest ``RESTART_SECONDS`` after it started: nothing waits longer than that for being below
it. Starting over begins at the campaign's mark (``store.unfinished``), below which every
delivery is final, not at the first delivery the campaign ever had.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

RESTART_SECONDS = 30.0


class ClaimCursors:
    """Per campaign: the last id claimed by this process, and when that run started."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cursors: dict[int, tuple[int, float]] = {}

    def after(self, campaign_id: int) -> int:
        """The id the next claim starts after (0: from the beginning)."""
        cursor = self._cursors.get(campaign_id)
        if cursor is None:
            return 0
        last_id, started = cursor
        if self._clock() - started >= RESTART_SECONDS:
            del self._cursors[campaign_id]
            return 0
        return last_id

    def claimed(self, campaign_id: int, ids: Sequence[int], *, limit: int) -> None:
        """A claim that asked for ``limit`` took ``ids``: go on after them, or start over
        when it found fewer."""
        if not ids or len(ids) < limit:
            self._cursors.pop(campaign_id, None)
            return
        _, started = self._cursors.get(campaign_id, (0, self._clock()))
        self._cursors[campaign_id] = (max(ids), started)
