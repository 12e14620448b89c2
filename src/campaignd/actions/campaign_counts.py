"""Delivery counts for pages and the API, without a count of every row on every request.

Counting a campaign's deliveries per status reads all its rows: nothing for a few thousand,
seconds for ten million. So the counts of a large campaign (``LARGE`` deliveries or more at
its last count) are kept here and served as they are for ``FRESH_SECONDS``, or for
``COST_FACTOR`` times as long as their last count took when that is longer; after that the
next request still answers at once with them and starts one count in the background, whose
result the following requests get. So counting a campaign someone watches takes at most a
tenth of a database core per process, however large it grows (a million deliveries took
0.24 s to count here: counted again every 2.4 s; ten million, every 20-30 s, not every 2 s
back to back). Smaller campaigns are counted on every request, exactly as before, so what
a user just did shows at once wherever it is cheap to.

The counts are per process (each API instance keeps its own), bounded to ``KEPT`` campaigns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.logs import log_event
from campaignd.store import campaigns
from campaignd.store.database import Database

logger = logging.getLogger("campaignd.api")

LARGE = 100_000
"""Deliveries from which a campaign's counts are served from memory between counts."""
FRESH_SECONDS = 2.0
"""How long kept counts are served before a new count starts in the background."""
COST_FACTOR = 10.0
"""Kept counts are also served for this many times the seconds their count took."""
KEPT = 1_000


@dataclass
class _Kept:
    counts: dict[str, int]
    counted_at: float
    cost: float = 0.0  # seconds the count took
    counting: bool = False


@dataclass
class CampaignCounts:
    """Per campaign, its delivery counts per status, as ``store.campaigns.delivery_counts``
    shows them."""

    large: int = LARGE
    fresh_seconds: float = FRESH_SECONDS
    cost_factor: float = COST_FACTOR
    _kept: OrderedDict[int, _Kept] = field(default_factory=OrderedDict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def of(
        self, connection: AsyncConnection, database: Database, campaign_ids: list[int]
    ) -> dict[int, dict[str, int]]:
        """The counts of ``campaign_ids``: counted now with ``connection`` unless kept."""
        result: dict[int, dict[str, int]] = {}
        to_count: list[int] = []
        now = time.monotonic()
        for campaign_id in campaign_ids:
            kept = self._kept.get(campaign_id)
            if kept is None:
                to_count.append(campaign_id)
                continue
            self._kept.move_to_end(campaign_id)
            result[campaign_id] = dict(kept.counts)
            fresh = max(self.fresh_seconds, kept.cost * self.cost_factor)
            if now - kept.counted_at >= fresh and not kept.counting:
                kept.counting = True
                self._count_later(database, campaign_id)
        if to_count:
            counted = await campaigns.delivery_counts(connection, to_count)
            cost = (time.monotonic() - now) / len(to_count)
            for campaign_id, counts in counted.items():
                self._keep(campaign_id, counts, cost=cost)
                result[campaign_id] = counts
        return result

    def forget(self, campaign_id: int) -> None:
        """Count it again on the next request."""
        self._kept.pop(campaign_id, None)

    def remember(self, campaign_id: int, counts: dict[str, int]) -> None:
        """Counts just made elsewhere (after a change): served from now on."""
        self._keep(campaign_id, counts)

    def _keep(
        self,
        campaign_id: int,
        counts: dict[str, int],
        *,
        since: float | None = None,
        cost: float = 0.0,
    ) -> None:
        """Keep ``counts`` counted from ``since`` (default: now), unless newer ones are kept."""
        counted_at = time.monotonic() if since is None else since
        kept = self._kept.get(campaign_id)
        if kept is not None and kept.counted_at > counted_at:
            kept.counting = False
            return
        if sum(counts.values()) < self.large:
            self._kept.pop(campaign_id, None)
            return
        self._kept[campaign_id] = _Kept(dict(counts), counted_at, cost)
        self._kept.move_to_end(campaign_id)
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)

    def _count_later(self, database: Database, campaign_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._count(database, campaign_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _count(self, database: Database, campaign_id: int) -> None:
        since = time.monotonic()
        try:
            async with database.connection() as connection:
                counted = await campaigns.delivery_counts(connection, [campaign_id])
        except Exception as error:
            kept = self._kept.get(campaign_id)
            if kept is not None:
                kept.counting = False
            log_event(
                logger,
                "campaign counts not refreshed",
                level=logging.WARNING,
                campaign_id=campaign_id,
                error=repr(error),
            )
            return
        self._keep(campaign_id, counted[campaign_id], since=since, cost=time.monotonic() - since)
