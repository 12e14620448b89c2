"""The webhook dispatcher: posts the outbox's messages to their endpoints.

Every instance that sends runs one. It claims due messages under a lease (PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so several instances share the work and never post one claim
twice), at most ``WEBHOOK_ENDPOINT_CONCURRENCY`` in flight per endpoint and
``WEBHOOK_CONCURRENCY`` in all, so a slow endpoint holds only its own slots. Each POST
carries the Standard Webhooks headers; the id (``webhook-id``) and body are the same on
every retry. A failed attempt is retried after ``domain.webhooks.RETRY_DELAYS`` (for
about a day); an endpoint with no successful attempt for that long, or one that answers
410 Gone, is disabled with the reason.

A dispatcher that dies mid-POST leaves its lease to expire; the message is then posted
again with the same id (deliveries are at least once: receivers deduplicate on the id).

Times (due, lease expiry) are judged on the dispatcher's ``clock`` (the instance's UTC
clock; tests move it forward to skip hours of backoff), not the database's: instances
should keep their clocks in sync (NTP). A skew moves a retry, or the takeover of an
expired lease, by as much; one larger than the lease (a minute by default) could let a
second dispatcher post a message the first is still posting (a duplicate with the same
id, which receivers deduplicate anyway).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from campaignd.delivery.webhook_client import WebhookClient
from campaignd.delivery.webhook_secrets import SECRET_NAME, seal_context, unseal
from campaignd.delivery.worker import default_owner
from campaignd.domain import webhooks as domain
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import webhooks as store
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.secrets import instance_secret

logger = logging.getLogger("campaignd.webhooks")

DISABLE_AFTER = sum(domain.RETRY_DELAYS, timedelta())
"""An endpoint with no successful attempt for this long (one message's whole retry
schedule) is disabled."""


class Dispatcher:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.owner = owner or default_owner()
        self.lease_seconds = 3 * settings.webhook_timeout + 30
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: Counter[int] = Counter()
        self._changed = asyncio.Event()
        self._client: WebhookClient | None = None
        self._instance_secret: str | None = None
        self._secrets: dict[tuple[int, str], str] = {}

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; then let the POSTs in flight finish (each is bounded by
        ``WEBHOOK_TIMEOUT``)."""
        log_event(logger, "webhook dispatcher started", owner=self.owner)
        try:
            while not stop.is_set():
                self._changed.clear()
                try:
                    await self.dispatch_once()
                except Exception as error:
                    log_event(
                        logger, "claiming webhooks failed", level=logging.ERROR, error=repr(error)
                    )
                await self._wait(stop)
        finally:
            await self._drain()
        log_event(logger, "webhook dispatcher stopped", owner=self.owner)

    async def run_burst(self) -> None:
        """Post every message due now (retries that fall due meanwhile included), then
        return."""
        try:
            while True:
                idle = not self._tasks
                claimed = await self.dispatch_once()
                if claimed == 0 and idle and not self._tasks:
                    return  # (POSTs that ended during the claim may have freed an endpoint)
                if self._tasks and (claimed == 0 or self.in_flight >= self._capacity):
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._drain()

    @property
    def _capacity(self) -> int:
        return self.settings.webhook_concurrency

    async def dispatch_once(self) -> int:
        """Claim what there is room for and start posting it; the number claimed."""
        free = self._capacity - self.in_flight
        if free <= 0:
            return 0
        per_endpoint = self.settings.webhook_endpoint_concurrency
        full = [endpoint for endpoint, count in self._in_flight.items() if count >= per_endpoint]
        now = self.clock()
        async with self.database.transaction() as connection:
            endpoints = await store.due_endpoints(connection, now=now, exclude=full, limit=free)
        claimed_count = 0
        for endpoint_id in endpoints:
            room = min(per_endpoint - self._in_flight[endpoint_id], free - claimed_count)
            if room <= 0:
                continue
            async with self.database.transaction() as connection:
                claimed = await store.claim(
                    connection,
                    endpoint_id,
                    owner=self.owner,
                    now=now,
                    lease_seconds=self.lease_seconds,
                    limit=room,
                )
            for message in claimed:
                self._start(message)
            claimed_count += len(claimed)
        return claimed_count

    def _start(self, message: store.Claimed) -> None:
        self._in_flight[message.endpoint_id] += 1
        task = asyncio.create_task(self._deliver(message), name=f"webhook-{message.message_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until stopped, a POST ends (a slot is free), or the poll interval passes."""
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._changed.wait())]
        try:
            await asyncio.wait(
                waits,
                timeout=self.settings.webhook_poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None

    def client(self) -> WebhookClient:
        if self._client is None:
            self._client = WebhookClient(
                timeout=self.settings.webhook_timeout,
                allow_loopback=self.settings.webhook_allow_loopback,
                allow_private=self.settings.webhook_allow_private,
                connections=self._capacity,
            )
        return self._client

    async def _secret(self, message: store.Claimed) -> str:
        key = (message.endpoint_id, message.sealed_secret)
        if key not in self._secrets:
            if self._instance_secret is None:
                self._instance_secret = await instance_secret(self.database, SECRET_NAME)
            context = seal_context(message.organization_id, message.endpoint_id)
            self._secrets[key] = unseal(message.sealed_secret, self._instance_secret, context)
        return self._secrets[key]

    async def _deliver(self, message: store.Claimed) -> None:
        try:
            secret = await self._secret(message)
            body = domain.body(message.event_type, message.created_at, message.data)
            headers = domain.headers(secret, message.message_id, int(time.time()), body)
            result = await self.client().post(message.url, headers, body)
            now = self.clock()
            delay = domain.retry_delay(message.attempts + 1)
            async with self.database.transaction() as connection:
                disabled = await store.record_result(
                    connection,
                    message,
                    result,
                    owner=self.owner,
                    now=now,
                    next_attempt_at=now + delay if delay is not None else None,
                    disable_after=DISABLE_AFTER,
                )
            if not result.delivered:
                log_event(
                    logger,
                    "webhook attempt failed",
                    level=logging.WARNING,
                    endpoint_id=message.endpoint_id,
                    message_id=message.message_id,
                    attempt=message.attempts + 1,
                    error=store.describe(result),
                    retry_in=delay.total_seconds() if delay is not None else None,
                )
            if disabled is not None:
                log_event(
                    logger,
                    "webhook endpoint disabled",
                    level=logging.WARNING,
                    endpoint_id=message.endpoint_id,
                    reason=disabled,
                )
        except Exception as error:
            log_event(
                logger,
                "webhook delivery not recorded; it is posted again when its lease expires",
                level=logging.ERROR,
                endpoint_id=message.endpoint_id,
                message_id=message.message_id,
                error=repr(error),
            )
        finally:
            self._in_flight[message.endpoint_id] -= 1
            if self._in_flight[message.endpoint_id] <= 0:
                del self._in_flight[message.endpoint_id]
            self._changed.set()
