"""The delivery worker: claim waiting deliveries under a lease, send them, record each result.

It is put together from small parts that share what the worker holds (``Hands``):

- the feeder claims batches of the sending campaigns into a small local queue;
- one sender per transport connection renders (``rendering``: a template holds the event
  loop for a few milliseconds at most, slow ones go to the render thread), checks, sends;
- the recorder commits results in groups (``OutcomeWriter`` says what a group writes);
- the lease keeper extends the leases held, hands back what was set aside and takes back
  expired leases of silent workers.

A halt (pause or cancel, from this process or, through Redis, from another) takes the
campaign out of the sending set at once; its deliveries held here are handed back unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from campaignd.delivery.builders import Builders
from campaignd.delivery.feeder import Feeder
from campaignd.delivery.hands import Hands
from campaignd.delivery.lease_keeper import LeaseKeeper
from campaignd.delivery.leases import LeaseBook
from campaignd.delivery.outcome_writer import OutcomeWriter
from campaignd.delivery.rate import RateLimiter
from campaignd.delivery.recorder import Recorder
from campaignd.delivery.rendering import RenderThread
from campaignd.delivery.sender import InFlight, Sender
from campaignd.delivery.transports import Transport
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.wakeups import Wakeups

logger = logging.getLogger("campaignd.delivery")


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        transport: Transport,
        wakeups: Wakeups,
        rate_limiter: RateLimiter | None = None,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.transport = transport
        self.wakeups = wakeups
        self.rate_limiter = rate_limiter
        self.owner = owner or default_owner()
        leases = LeaseBook(
            lease_seconds=settings.lease_seconds, margin=settings.lease_safety_margin
        )
        capacity = max(settings.batch_size, 2 * transport.connections)
        self.hands = Hands(database, owner=self.owner, leases=leases, capacity=capacity)
        self.thread = RenderThread()
        self.builders = Builders(database, settings, thread=self.thread)
        self.feeder = Feeder(self.hands, settings, builders=self.builders, wakeups=wakeups)
        self.keeper = LeaseKeeper(self.hands, settings, feeder=self.feeder)
        self.writer = OutcomeWriter(self.hands, settings, builders=self.builders, wakeups=wakeups)
        wakeups.on_halt(self.hands.campaigns.halt)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; then finish in-flight messages and hand back the rest."""
        await self._pipeline(lambda: self.feeder.run_until(stop))

    async def run_burst(self) -> None:
        """Send everything claimable now (and retries due soon), then return."""
        await self._pipeline(self.feeder.run_burst)

    async def _pipeline(self, feed: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.hands.reset()
        await self.wakeups.start()
        in_flight = InFlight()
        recorder = Recorder(self.database, self.writer, in_flight=in_flight)
        recorder.start()
        senders = [
            asyncio.create_task(
                Sender(
                    self.hands,
                    self.settings,
                    transport=self.transport,
                    recorder=recorder,
                    builders=self.builders,
                    thread=self.thread,
                    in_flight=in_flight,
                    rate_limiter=self.rate_limiter,
                ).run(),
                name=f"delivery-sender-{index}",
            )
            for index in range(self.transport.connections)
        ]
        keeper = asyncio.create_task(self.keeper.run(), name="delivery-leases")
        log_event(logger, "worker started", owner=self.owner)
        await self.keeper.recover()
        feeder = asyncio.create_task(feed(), name="delivery-feeder")
        try:
            running: set[asyncio.Task[None]] = {feeder, *senders}
            while not feeder.done():
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a sender that could not record stops the worker, loudly
        finally:
            self.hands.stopping = True
            feeder.cancel()
            for _ in senders:
                self.hands.jobs.put_nowait(None)
            await asyncio.gather(feeder, *senders, return_exceptions=True)
            await recorder.close()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            handed_back = await self.hands.hand_back_everything()
            await self.transport.close()
            self.thread.close()
            if self.rate_limiter is not None:
                await self.rate_limiter.close()
            log_event(logger, "worker stopped", owner=self.owner, handed_back=handed_back)
