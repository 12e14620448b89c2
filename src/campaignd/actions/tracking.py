"""The public ends of tracking: following a tracked link, fetching the tracking image.

A token that does not open (forged, altered, of another kind) is NotFound and nothing is
recorded. A valid one is recorded with one insert (``store.tracking.record_event``) and
the click is sent on to the URL stored with the campaign under the token's link number;
events that arrive together are written in one transaction (group commit).
Recording never stands in the reader's way: when the database cannot take the row, the
redirect (or the image) is answered all the same and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

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
from campaignd.store.tracking import CLICK, OPEN, Event, links_of, record_events

logger = logging.getLogger("campaignd.tracking")

MAX_CACHED_CAMPAIGNS = 1000
MAX_BATCH = 500
"""Events written in one transaction at most."""


class Tracker:
    """Follows clicks and records opens for one database; keeps the link secret and each
    campaign's links (which never change once it sends) after the first read."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        """``clock``: seconds since the epoch, to judge how soon after sending a fetch came."""
        self.database = database
        self.clock = clock
        self._tokens: TrackingTokens | None = None
        self._links: dict[int, tuple[str, ...]] = {}
        self._pending: list[tuple[Event, asyncio.Future[None]]] = []
        self._writer: asyncio.Future[None] | None = None
        self._subscriptions = Subscriptions()

    async def tokens(self) -> TrackingTokens:
        if self._tokens is None:
            self._tokens = tracking_tokens(await instance_secret(self.database, SECRET_NAME))
        return self._tokens

    async def _links_of(self, campaign_id: int) -> tuple[str, ...]:
        links = self._links.get(campaign_id)
        if links is None:
            async with self.database.connection() as connection:
                links = await links_of(connection, campaign_id)
            if links:
                if len(self._links) >= MAX_CACHED_CAMPAIGNS:
                    self._links.clear()
                self._links[campaign_id] = links
        return links

    async def click(self, token: str, *, user_agent: str | None, address: str | None) -> str:
        """The URL a tracked link goes to, after recording the click; NotFound for a
        token that does not open or names no stored link."""
        try:
            click = (await self.tokens()).read_click(token)
        except ValueError:
            raise NotFound("link not valid") from None
        links = await self._links_of(click.campaign_id)
        if click.link_index >= len(links):
            raise NotFound("link not valid")
        machine = machine_reason(
            user_agent, address, seconds_since_sent=self.clock() - click.sent_at, opening=False
        )
        await self._record(click.campaign_id, click.delivery_id, CLICK, click.link_index, machine)
        return links[click.link_index]

    async def open(self, token: str, *, user_agent: str | None, address: str | None) -> None:
        """Record an open; NotFound for a token that does not open."""
        try:
            opened = (await self.tokens()).read_open(token)
        except ValueError:
            raise NotFound("image not valid") from None
        machine = machine_reason(
            user_agent, address, seconds_since_sent=self.clock() - opened.sent_at, opening=True
        )
        await self._record(opened.campaign_id, opened.delivery_id, OPEN, None, machine)

    async def _record(
        self,
        campaign_id: int,
        delivery_id: int,
        kind: str,
        link_index: int | None,
        machine: str | None,
    ) -> None:
        """Record one event and return once it is committed (or could not be).

        Events that arrive while a batch is being written wait for the next one: under
        load every commit carries many events (group commit), and the database sees one
        writer instead of a crowd of them queueing for its lock."""
        event = Event(campaign_id, delivery_id, kind, link_index, machine, utcnow())
        done = asyncio.get_running_loop().create_future()
        self._pending.append((event, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())
        await asyncio.shield(done)

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            try:
                async with self.database.transaction() as connection:
                    events = [event for event, _ in batch]
                    await record_events(connection, events)
                    await record_engagement_events(
                        connection, events, links=self._links, subscriptions=self._subscriptions
                    )
            except (SQLAlchemyError, OSError) as error:
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
