"""The delivery worker: claim queued deliveries under a lease, send them, record each result.

One feeder claims batches of the sending campaigns into a small local queue (checking the
suppression list for the batch as it is claimed); one sender per transport connection
takes messages from it, renders, sends and hands the reply to the group-commit recorder,
waiting for the commit before its next message. A maintenance task extends this worker's
leases and returns expired ones of silent workers to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd import metrics
from campaignd.delivery.messages import CampaignContent, MessageBuilder
from campaignd.delivery.outcomes import failed, outcome_of
from campaignd.delivery.rate import RateLimiter
from campaignd.delivery.recorder import Recorder, RecordingFailed
from campaignd.delivery.transports import Ready, Reply, Transport
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.domain.templates import TemplateProblem
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import queue, runs
from campaignd.store.campaigns import get_campaign
from campaignd.store.columns import utcnow
from campaignd.store.contacts import scope_of
from campaignd.store.database import Database
from campaignd.store.rows import Row
from campaignd.store.secrets import instance_secret
from campaignd.wakeups import Wakeups

logger = logging.getLogger("campaignd.delivery")

IDLE_SECONDS = 1.0
BURST_RETRY_HORIZON = 10.0  # run_burst waits for retries due within this many seconds
OUTCOME_LABELS = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.QUEUED: "retry",
    DeliveryStatus.FAILED: "failed",
}


class Withdrawn(Exception):
    """The message's campaign was paused or cancelled, or the worker is stopping, while its
    envelope waited for the previous commit: it is handed back unsent."""


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    campaign_id: int
    email: str
    variables: dict[str, Any] | None
    attempts: int


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
        self.capacity = max(settings.batch_size, 2 * transport.connections)
        self._secret: str | None = None
        self._builders: dict[int, MessageBuilder | TemplateProblem] = {}
        self._organizations: dict[int, int] = {}
        self._active: set[int] = set()
        self._in_hand: Counter[int] = Counter()
        self._jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._stopping = False
        self._dropped: list[int] = []
        self._turn = 0
        self._sending = 0  # senders whose result may come before the next commit (_Flight)

    # -- the two ways to run ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; then finish in-flight messages and give back the rest."""
        await self._pipeline(self._feed_until(stop))

    async def run_burst(self) -> None:
        """Send everything claimable now (and retries due soon), then return."""
        await self._pipeline(self._feed_burst())

    async def _pipeline(self, feeder: Awaitable[None]) -> None:
        self._stopping = False
        self._jobs = asyncio.Queue()
        self._room = asyncio.Event()
        recorder = Recorder(self.database, self._write, in_flight=lambda: self._sending)
        recorder.start()
        senders = [
            asyncio.create_task(self._send_loop(recorder), name=f"delivery-sender-{index}")
            for index in range(self.transport.connections)
        ]
        keeper = asyncio.create_task(self._keep_leases(), name="delivery-leases")
        log_event(logger, "worker started", owner=self.owner)
        try:
            await self._recover()
            await feeder
        finally:
            self._stopping = True
            for _ in senders:
                self._jobs.put_nowait(None)
            await asyncio.gather(*senders, return_exceptions=True)
            await recorder.close()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            released = await self._release_all()
            await self.transport.close()
            if self.rate_limiter is not None:
                await self.rate_limiter.close()
            log_event(logger, "worker stopped", owner=self.owner, released=released)

    # -- feeding -----------------------------------------------------------------------------

    async def _feed_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = await self._claim_round_safely()
            if self._jobs.qsize() >= self.capacity // 2:
                await _first_of(stop.wait(), self._room_wait())
            elif claimed == 0:
                await _first_of(stop.wait(), self.wakeups.wait("workers", IDLE_SECONDS))

    async def _feed_burst(self) -> None:
        while True:
            claimed = await self._claim_round_safely()
            if claimed:
                if self._jobs.qsize() >= self.capacity // 2:
                    await self._room_wait()
                continue
            await self._jobs.join()
            if await self._claim_round_safely():
                continue
            due = await self._next_retry_in()
            if due is None or due > BURST_RETRY_HORIZON:
                return
            await asyncio.sleep(max(0.0, due))

    async def _room_wait(self) -> None:
        self._room.clear()
        if self._jobs.qsize() >= self.capacity // 2:
            await self._room.wait()

    async def _next_retry_in(self) -> float | None:
        async with self.database.connection() as connection:
            due = await queue.next_retry_at(connection)
        return None if due is None else (due - utcnow()).total_seconds()

    async def _claim_round_safely(self) -> int:
        try:
            return await self._claim_round()
        except Exception as error:
            log_event(logger, "claiming failed", level=logging.ERROR, error=repr(error))
            await asyncio.sleep(IDLE_SECONDS)
            return 0

    async def _claim_round(self) -> int:
        """Claim for every sending campaign a share of the free room; finish idle campaigns."""
        async with self.database.connection() as connection:
            campaigns = await queue.sending_campaigns(connection)
        self._active = {int(row["id"]) for row in campaigns}
        await self._release_dropped()
        if not campaigns:
            return 0
        self._turn = (self._turn + 1) % len(campaigns)
        campaigns = campaigns[self._turn :] + campaigns[: self._turn]
        claimed = 0
        for position, campaign in enumerate(campaigns):
            room = self.capacity - self._jobs.qsize()
            share = max(1, room // (len(campaigns) - position))
            if room <= 0:
                break
            claimed += await self._claim_campaign(campaign, min(share, self.settings.batch_size))
        return claimed

    async def _claim_campaign(self, campaign: Row, limit: int) -> int:
        campaign_id, organization_id = int(campaign["id"]), int(campaign["organization_id"])
        self._organizations[campaign_id] = organization_id
        builder = await self._builder(campaign_id)
        now = utcnow()
        async with self.database.transaction() as connection:
            rows = await queue.claim_batch(
                connection,
                campaign_id,
                owner=self.owner,
                limit=limit,
                now=now,
                lease_seconds=self.settings.lease_seconds,
            )
            if not rows:
                if self._in_hand[campaign_id] == 0:
                    await self._finish(connection, campaign_id, now)
                return 0
            emails = [str(row["email"]) for row in rows]
            suppressed = await queue.suppressed_among(connection, organization_id, emails)
            skipped = {
                int(row["id"]): (str(row["email"]), suppressed[str(row["email"])])
                for row in rows
                if str(row["email"]) in suppressed
            }
            await queue.skip_suppressed(
                connection,
                skipped,
                campaign_id=campaign_id,
                owner=self.owner,
                scope=scope_of(self.settings.cooldown_scope, organization_id),
            )
        if skipped:
            metrics.deliveries.labels(outcome="skipped").inc(len(skipped))
            log_event(logger, "suppressed before send", campaign_id=campaign_id, count=len(skipped))
        if builder is None:
            return 0
        for row in rows:
            if int(row["id"]) not in skipped:
                self._in_hand[campaign_id] += 1
                self._jobs.put_nowait(
                    Job(
                        delivery_id=int(row["id"]),
                        campaign_id=campaign_id,
                        email=str(row["email"]),
                        variables=row["variables"],
                        attempts=int(row["attempts"]),
                    )
                )
        return len(rows)

    async def _builder(self, campaign_id: int) -> MessageBuilder | TemplateProblem | None:
        """The campaign's message builder (templates compiled once), or why it cannot build."""
        if campaign_id in self._builders:
            return self._builders[campaign_id]
        if self._secret is None:
            self._secret = await instance_secret(self.database, SECRET_NAME)
        async with self.database.connection() as connection:
            row = await get_campaign(connection, campaign_id)
        if row is None:
            return None
        content = CampaignContent.from_row(row, default_from=self.settings.from_address)
        builder: MessageBuilder | TemplateProblem
        try:
            builder = MessageBuilder(
                content, public_url=self.settings.public_url, unsubscribe_secret=self._secret
            )
        except (TemplateProblem, ValueError) as error:
            problem = (
                error if isinstance(error, TemplateProblem) else TemplateProblem("from", str(error))
            )
            log_event(
                logger,
                "campaign cannot be built",
                level=logging.ERROR,
                campaign_id=campaign_id,
                error=str(problem),
            )
            builder = problem
        self._builders[campaign_id] = builder
        return builder

    # -- sending -----------------------------------------------------------------------------

    async def _send_loop(self, recorder: Recorder) -> None:
        """Send one message after another over one connection.

        A result is handed to the recorder without waiting for its commit: the next message
        is rendered and its envelope (MAIL, RCPT) sent meanwhile, and only its content waits
        for that commit (``_ready``). So a connection never has more than one message
        accepted by the server and not recorded.
        """
        committing: asyncio.Future[None] | None = None  # the commit of the last result
        while True:
            job = await self._jobs.get()
            if job is None:
                self._done_with(None)
                return
            try:
                if self._stopping or job.campaign_id not in self._active:
                    self._dropped.append(job.delivery_id)
                    self._done_with(job)
                    continue
                flight = _Flight(self, counted=committing is None or committing.done())
                try:
                    outcome = await self._deliver(job, self._ready(job, committing, flight))
                finally:
                    flight.land()
                committing = recorder.submit(outcome)
                committing.add_done_callback(partial(self._committed, job, outcome))
            except Withdrawn:
                self._dropped.append(job.delivery_id)
                self._done_with(job)
            except RecordingFailed:
                self._done_with(job)
                return
            except Exception as error:
                log_event(
                    logger,
                    "delivery failed unexpectedly",
                    level=logging.ERROR,
                    campaign_id=job.campaign_id,
                    delivery_id=job.delivery_id,
                    error=repr(error),
                )
                self._done_with(job)

    def _ready(self, job: Job, committing: asyncio.Future[None] | None, flight: _Flight) -> Ready:
        """Waits until the previous result of this sender is committed (meanwhile the sender
        is not in flight), then checks that ``job`` may still be sent: ``RecordingFailed``
        if that commit failed, ``Withdrawn`` if the campaign stopped sending or we are."""

        async def ready() -> None:
            if committing is not None:
                if not committing.done():
                    await asyncio.shield(committing)
                committing.result()
            flight.take_off()
            if self._stopping or job.campaign_id not in self._active:
                raise Withdrawn(job.delivery_id)

        return ready

    def _committed(
        self, job: Job, outcome: queue.Outcome, committing: asyncio.Future[None]
    ) -> None:
        if not committing.cancelled() and committing.exception() is None:
            metrics.deliveries.labels(outcome=_label(outcome)).inc()
        self._done_with(job)

    def _done_with(self, job: Job | None) -> None:
        """A job leaves our hands: sent and recorded, dropped, or given up."""
        if job is not None:
            self._in_hand[job.campaign_id] -= 1
        self._jobs.task_done()
        if self._jobs.qsize() < self.capacity // 2:
            self._room.set()

    async def _deliver(self, job: Job, ready: Ready) -> queue.Outcome:
        builder = self._builders.get(job.campaign_id)
        if not isinstance(builder, MessageBuilder):
            return failed(job.delivery_id, job.campaign_id, job.email, str(builder))
        try:
            message = builder.build(job.delivery_id, job.email, job.variables)
        except Exception as error:
            error_text = f"template: {type(error).__name__}: {error}"
            return failed(job.delivery_id, job.campaign_id, job.email, error_text)
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire()
        started = time.perf_counter()
        try:
            reply = await self.transport.send(message, ready)
        except (Withdrawn, RecordingFailed):
            raise
        except Exception as error:
            reply = Reply(None, f"transport error: {type(error).__name__}: {error}")
        metrics.send_latency.observe(time.perf_counter() - started)
        return outcome_of(
            reply,
            delivery_id=job.delivery_id,
            campaign_id=job.campaign_id,
            email=job.email,
            attempts=job.attempts,
            max_attempts=self.settings.max_attempts,
            retry_backoff=self.settings.retry_backoff,
            now=utcnow(),
        )

    # -- recording ---------------------------------------------------------------------------

    async def _write(self, connection: AsyncConnection, outcomes: Sequence[queue.Outcome]) -> None:
        """One group of outcomes, then pause failing campaigns and finish completed ones."""
        now = utcnow()
        touched = Counter(outcome.campaign_id for outcome in outcomes)
        organizations = {campaign_id: self._organizations[campaign_id] for campaign_id in touched}
        scopes = {
            campaign_id: scope_of(self.settings.cooldown_scope, organization_id)
            for campaign_id, organization_id in organizations.items()
        }
        await queue.record_outcomes(
            connection,
            outcomes,
            owner=self.owner,
            now=now,
            scopes=scopes,
            organizations=organizations,
        )
        last_errors = {
            outcome.campaign_id: outcome.error
            for outcome in outcomes
            if outcome.status is not DeliveryStatus.SENT
        }
        for campaign_id in sorted(last_errors):
            paused = await queue.pause_if_failing(
                connection,
                campaign_id,
                max_errors=self.settings.max_send_errors,
                now=now,
                last_error=last_errors[campaign_id],
            )
            if paused is not None:
                self._active.discard(campaign_id)
                log_event(
                    logger,
                    "campaign paused",
                    level=logging.WARNING,
                    campaign_id=campaign_id,
                    reason=paused["status_reason"],
                )
        for campaign_id, count in touched.items():
            if self._in_hand[campaign_id] <= count:
                await self._finish(connection, campaign_id, now)
        for outcome in outcomes:
            if outcome.suppress_as:
                log_event(
                    logger,
                    "address suppressed",
                    campaign_id=outcome.campaign_id,
                    reason=outcome.suppress_as,
                    error=outcome.error,
                )

    async def _finish(self, connection: AsyncConnection, campaign_id: int, now: datetime) -> None:
        campaign = await runs.finish_if_done(connection, campaign_id, now=now)
        if campaign is None:
            return
        self._builders.pop(campaign_id, None)
        metrics.runs_finished.labels(outcome=campaign["status"]).inc()
        run = await runs.runs_of_campaign(connection, campaign_id)
        latest = run[0] if run else {}
        log_event(
            logger,
            "campaign finished",
            campaign_id=campaign_id,
            run_id=latest.get("id"),
            status=campaign["status"],
            sent=latest.get("sent"),
            failed=latest.get("failed"),
            skipped=latest.get("skipped"),
        )

    # -- leases ------------------------------------------------------------------------------

    async def _recover(self) -> None:
        try:
            async with self.database.transaction() as connection:
                recovered = await queue.recover_expired_leases(connection, now=utcnow())
        except Exception as error:
            log_event(logger, "lease recovery failed", level=logging.ERROR, error=repr(error))
            return
        if recovered:
            log_event(logger, "expired leases recovered", count=recovered)

    async def _keep_leases(self) -> None:
        """Extend this worker's leases, recover expired ones, refresh progress and gauges."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.database.transaction() as connection:
                    await queue.extend_leases(
                        connection,
                        owner=self.owner,
                        now=utcnow(),
                        lease_seconds=self.settings.lease_seconds,
                    )
                    for campaign_id in sorted(self._active):
                        await runs.refresh_run_counts(connection, campaign_id)
                await self._recover()
                async with self.database.connection() as connection:
                    metrics.queue_depth.set(await queue.queue_depth(connection))
            except Exception as error:
                log_event(logger, "lease upkeep failed", level=logging.ERROR, error=repr(error))

    async def _release_dropped(self) -> None:
        """Give back deliveries of campaigns that were paused or cancelled while in hand."""
        dropped, self._dropped = self._dropped, []
        if dropped:
            async with self.database.transaction() as connection:
                await queue.release_deliveries(connection, dropped, owner=self.owner)

    async def _release_all(self) -> int:
        self._dropped = []
        try:
            async with self.database.transaction() as connection:
                return await queue.release_leases(connection, owner=self.owner)
        except Exception as error:
            log_event(logger, "releasing leases failed", level=logging.ERROR, error=repr(error))
            return 0


def _label(outcome: queue.Outcome) -> str:
    if outcome.suppress_as:
        return "bounced"
    return OUTCOME_LABELS.get(outcome.status, outcome.status.value)


async def _first_of(*waits: Awaitable[Any]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Flight:
    """Whether one sender counts as in flight for the recorder's linger: holding a message
    whose result can arrive before the next commit. A sender whose previous result is not
    committed yet cannot send its message's content before that commit, so it counts only
    once that commit is done (``take_off``); it stops counting when its result is handed
    over or the message is given up (``land``)."""

    def __init__(self, worker: Worker, *, counted: bool) -> None:
        self.worker = worker
        self.counted = False
        if counted:
            self.take_off()

    def take_off(self) -> None:
        if not self.counted:
            self.counted = True
            self.worker._sending += 1

    def land(self) -> None:
        if self.counted:
            self.counted = False
            self.worker._sending -= 1
