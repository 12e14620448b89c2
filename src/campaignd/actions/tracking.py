"""The public ends of tracking: following a tracked link, fetching the tracking image.

A token that does not open (forged, altered, of another kind) is NotFound and nothing is
recorded. A valid one is recorded with one insert (``store.tracking.record_events``) and
the click is sent on to the URL stored with the campaign under the token's link number
(each campaign's links and organization are read once and kept: no query but the insert);
events that arrive together are written in one transaction (group commit).
Recording never stands in the reader's way: the public ends answer as soon as the event
is queued (``wait=False``), and when the database cannot take the row the failure is
logged. Only when ``MAX_WAITING`` events are queued (the database is slow) does a reader
wait for the commit, so memory stays bounded. ``settled`` waits for what is queued (a
graceful stop calls it, so nothing queued is lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from campaignd.actions.errors import NotFound
from campaignd.delivery.tracking import TrackingTokens, tracking_tokens
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.tracking import machine_reason
from campaignd.logs import log_event
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.engagement_events import record_engagement_events
from campaignd.store.outbox import Subscriptions
from campaignd.store.secrets import instance_secret
from campaignd.store.tracking import CLICK, OPEN, Event, record_events, tracked_campaign

logger = logging.getLogger("campaignd.tracking")

MAX_CACHED_CAMPAIGNS = 1000
MAX_BATCH = 500
"""Events written in one transaction at most."""
MAX_WAITING = 5000
"""Events queued beyond which a new one is answered only once written."""


@dataclass(frozen=True)
class TrackedCampaign:
    """What a click or open needs of its campaign; never changes once the campaign sends."""

    organization_id: int
    links: tuple[str, ...]


class Tracker:
    """Follows clicks and records opens for one database; keeps the link secret and, after
    the first read, each campaign's organization and links (which never change once it
    sends), so that a click costs no query but its insert."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        """``clock``: seconds since the epoch, to judge how soon after sending a fetch came."""
        self.database = database
        self.clock = clock
        self._tokens: TrackingTokens | None = None
        self._campaigns: dict[int, TrackedCampaign] = {}
        self._pending: list[tuple[Event, asyncio.Future[None]]] = []
        self._writer: asyncio.Future[None] | None = None
        self._subscriptions = Subscriptions()

    async def tokens(self) -> TrackingTokens:
        if self._tokens is None:
            self._tokens = tracking_tokens(await instance_secret(self.database, SECRET_NAME))
        return self._tokens

    async def _campaign(self, campaign_id: int, *, fresh: bool = False) -> TrackedCampaign | None:
        """The campaign, from the cache unless ``fresh``; None when it does not exist."""
        found = None if fresh else self._campaigns.get(campaign_id)
        if found is None:
            async with self.database.connection() as connection:
                row = await tracked_campaign(connection, campaign_id)
            if row is None:
                return None
            found = TrackedCampaign(*row)
            if len(self._campaigns) >= MAX_CACHED_CAMPAIGNS:
                self._campaigns.clear()
            self._campaigns[campaign_id] = found
        return found

    async def click(
        self, token: str, *, user_agent: str | None, address: str | None, wait: bool = True
    ) -> str:
        """The URL a tracked link goes to, after recording the click (``wait``: after its
        commit; else once queued); NotFound for a token that does not open or names no
        stored link."""
        try:
            click = (await self.tokens()).read_click(token)
        except ValueError:
            raise NotFound("link not valid") from None
        campaign = await self._campaign(click.campaign_id)
        if campaign is not None and click.link_index >= len(campaign.links):
            campaign = await self._campaign(click.campaign_id, fresh=True)
        if campaign is None or click.link_index >= len(campaign.links):
            raise NotFound("link not valid")
        machine = machine_reason(
            user_agent, address, seconds_since_sent=self.clock() - click.sent_at, opening=False
        )
        await self._record(
            Event(click.campaign_id, click.delivery_id, CLICK, click.link_index, machine, utcnow()),
            wait=wait,
        )
        return campaign.links[click.link_index]

    async def open(
        self, token: str, *, user_agent: str | None, address: str | None, wait: bool = True
    ) -> None:
        """Record an open (``wait``: return after its commit; else once queued); NotFound
        for a token that does not open. The open of a campaign deleted since is answered
        and not recorded."""
        try:
            opened = (await self.tokens()).read_open(token)
        except ValueError:
            raise NotFound("image not valid") from None
        if await self._campaign(opened.campaign_id) is None:
            return
        machine = machine_reason(
            user_agent, address, seconds_since_sent=self.clock() - opened.sent_at, opening=True
        )
        await self._record(
            Event(opened.campaign_id, opened.delivery_id, OPEN, None, machine, utcnow()),
            wait=wait,
        )

    async def _record(self, event: Event, *, wait: bool) -> None:
        """Queue one event for the writer; with ``wait`` (or a long queue), return once it
        is committed (or could not be).

        Events that arrive while a batch is being written wait for the next one: under
        load every commit carries many events (group commit), and the database sees one
        writer instead of a crowd of them queueing for its lock."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((event, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())
        if wait or len(self._pending) > MAX_WAITING:
            await asyncio.shield(done)

    async def settled(self) -> None:
        """Return once every event queued so far is written (or could not be)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            try:
                events = [event for event, _ in batch]
                known = {
                    event.campaign_id: campaign
                    for event in events
                    if (campaign := self._campaigns.get(event.campaign_id)) is not None
                }
                async with self.database.transaction() as connection:
                    await record_events(connection, events)
                    await record_engagement_events(
                        connection,
                        events,
                        links={key: campaign.links for key, campaign in known.items()},
                        organizations={
                            key: campaign.organization_id for key, campaign in known.items()
                        },
                        subscriptions=self._subscriptions,
                    )
            except Exception as error:  # logged, never raised: readers were answered already
                log_event(
                    logger,
                    "opens and clicks not recorded",
                    level=logging.WARNING,
                    count=len(batch),
                    error=str(error),
                )
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
