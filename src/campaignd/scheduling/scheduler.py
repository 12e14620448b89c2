"""The scheduler: start due campaigns on time, mark overdue ones missed, fan out started ones.

One pass is ``tick()``. ``run()`` repeats it while this instance holds the leader lock,
sleeping until the next due time, the next interval or a wake-up on topic "scheduler",
whichever comes first. Every claim is a conditional update in the database, so two
schedulers that both believe they lead still start each campaign once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd import metrics
from campaignd.domain.lifecycle import Trigger
from campaignd.logs import log_event
from campaignd.scheduling.lock import LeaderLock
from campaignd.scheduling.retry import in_transaction
from campaignd.settings import Settings
from campaignd.store import campaigns, retention, runs, unfinished
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.deferral import any_expired, skip_expired
from campaignd.store.due_times import next_window_change, roll_windows
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.rows import Row
from campaignd.wakeups import Wakeups

logger = logging.getLogger("campaignd.scheduler")

TOPIC = "scheduler"
ACTOR = "scheduler"
DUE_BATCH = 100
MAX_FANOUT_FAILURES = 3
"""Ticks in a row a campaign's fan-out may fail before its run is closed with the error."""
WAKE_MARGIN = 0.001
"""Wake this long after a due time, so the campaign is due when the tick looks."""
PRUNE_EVERY = 24 * 3600.0
"""Seconds between two prunes by the leader when ``CAMPAIGND_RETENTION_DAYS`` is set."""
BURST_IDLE_PAUSE = 0.05
BURST_IDLE_LIMIT = 100


@dataclass
class TickReport:
    """What one pass did (campaign ids), for tests, burst mode and logs."""

    leader: bool = True
    missed: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    fanned_out: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    errors: int = 0

    @property
    def progressed(self) -> bool:
        return bool(self.missed or self.started or self.fanned_out or self.finished or self.failed)


@dataclass(frozen=True)
class FanOutResult:
    counts: dict[str, int]
    run_id: int | None
    finished: Row | None


class Scheduler:
    def __init__(
        self, database: Database, settings: Settings, *, lock: LeaderLock, wakeups: Wakeups
    ) -> None:
        self.database = database
        self.settings = settings
        self.lock = lock
        self.wakeups = wakeups
        self.rules = CooldownRules(days=settings.cooldown_days, scope=settings.cooldown_scope)
        self._fanout_failures: dict[int, int] = {}
        self._pruning: asyncio.Task[None] | None = None
        self._pruned_at: float | None = None
        self._next_change: datetime | None = None
        """When the next local-time wave or send window comes due (woken for it)."""

    async def tick(self) -> TickReport:
        """One pass, only while leader (tries to take the lock once when not)."""
        report = TickReport(leader=self.lock.is_leader or await self.lock.acquire())
        if not report.leader:
            return report
        await self._guarded(report, "marking missed campaigns failed", self._mark_missed)
        await self._guarded(report, "starting due campaigns failed", self._start_due)
        await self._guarded(report, "fan-out pass failed", self._fan_out_started)
        await self._guarded(report, "skipping deferrals past their deadline failed", self._expire)
        await self._guarded(report, "finishing campaigns failed", self._finish_done)
        await self._guarded(report, "keeping send windows failed", self._keep_due_times)
        report.leader = report.leader and self.lock.is_leader
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: keep the lock, tick, sleep until there is work."""
        log_event(logger, "scheduler started", interval=self.settings.scheduler_interval)
        try:
            while not stop.is_set():
                timeout = self.settings.scheduler_interval
                try:
                    if await self.lock.acquire():
                        report = await self.tick()
                        timeout = await self._seconds_to_sleep(report)
                        self._prune_when_due()
                except Exception:
                    logger.exception("scheduler pass failed")
                await self._pause(stop, timeout)
        finally:
            if self._pruning is not None:
                self._pruning.cancel()
                with contextlib.suppress(BaseException):
                    await self._pruning
            with contextlib.suppress(Exception):
                await self.lock.close()
            log_event(logger, "scheduler stopped")

    def _prune_when_due(self) -> None:
        """Once a day while leading, with ``CAMPAIGND_RETENTION_DAYS`` set: prune finished
        campaigns in the background (short batches), never holding up the passes."""
        days = self.settings.retention_days
        if days is None or not self.lock.is_leader:
            return
        if self._pruning is not None and not self._pruning.done():
            return
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        self._pruning = asyncio.create_task(self.prune(days))

    async def prune(self, days: int) -> None:
        """Delete the per-recipient rows of campaigns finished more than ``days`` ago, and
        the webhook messages delivered or given up as long ago."""
        try:
            moment = utcnow()
            cutoff = moment - timedelta(days=days)
            async with self.database.connection() as connection:
                found = await retention.prunable(connection, finished_before=cutoff)
            pruned = await retention.prune(self.database, found, actor=ACTOR, now=moment)
            pruned += await retention.prune_webhook_messages(
                self.database, before=cutoff, actor=ACTOR
            )
            if found or pruned.webhook_messages:
                log_event(
                    logger,
                    "pruned finished campaigns and webhook messages",
                    campaigns=len(found),
                    rows=pruned.rows,
                    events=pruned.events,
                    webhook_messages=pruned.webhook_messages,
                    webhook_attempts=pruned.webhook_attempts,
                    days=days,
                )
        except Exception:
            logger.exception("pruning finished campaigns failed")

    async def run_burst(self) -> None:
        """Tick until nothing is due now and nothing is left to fan out, then return."""
        if not await self.lock.acquire():
            log_event(logger, "burst skipped: another instance holds the scheduler lock")
            return
        idle = 0
        try:
            while True:
                report = await self.tick()
                if not report.leader or not await self._work_left():
                    return
                idle = 0 if report.progressed else idle + 1
                if idle >= BURST_IDLE_LIMIT:
                    log_event(
                        logger, "burst gave up: work left but no progress", level=logging.ERROR
                    )
                    return
                if idle:
                    await asyncio.sleep(BURST_IDLE_PAUSE)
        finally:
            await self.lock.release()

    async def _guarded(
        self, report: TickReport, failure: str, step: Callable[[TickReport], Awaitable[None]]
    ) -> None:
        """Errors of one step are logged and counted; they never stop the pass or the loop."""
        try:
            await step(report)
        except Exception:
            report.errors += 1
            logger.exception(failure)

    async def _mark_missed(self, report: TickReport) -> None:
        grace = self.settings.misfire_grace
        missed = await in_transaction(
            self.database, partial(runs.mark_missed, now=utcnow(), misfire_grace=grace)
        )
        for campaign in missed:
            metrics.campaigns_missed.inc()
            report.missed.append(int(campaign["id"]))
            log_event(
                logger,
                "campaign missed",
                level=logging.WARNING,
                campaign_id=campaign["id"],
                name=campaign["name"],
                scheduled_for=campaign["scheduled_for"].isoformat(),
                misfire_grace=grace,
            )

    async def _start_due(self, report: TickReport) -> None:
        async with self.database.connection() as connection:
            due = await campaigns.due_campaign_ids(connection, now=utcnow(), limit=DUE_BATCH)
        for campaign_id in due:
            if not self.lock.is_leader:
                report.leader = False
                return
            try:
                run = await in_transaction(self.database, partial(self._claim, campaign_id))
            except Exception:
                report.errors += 1
                logger.exception("starting a campaign failed", extra={"campaign_id": campaign_id})
                continue
            if run is None:
                continue
            lateness = float(run["lateness_seconds"] or 0.0)
            metrics.scheduler_lateness.observe(lateness)
            metrics.runs_started.labels(trigger=Trigger.SCHEDULE.value).inc()
            report.started.append(campaign_id)
            log_event(
                logger,
                "run started",
                campaign_id=campaign_id,
                run_id=run["id"],
                trigger=Trigger.SCHEDULE.value,
                lateness_seconds=round(lateness, 3),
            )

    async def _claim(self, campaign_id: int, connection: AsyncConnection) -> Row | None:
        return await runs.start_campaign(
            connection,
            campaign_id,
            trigger=Trigger.SCHEDULE,
            actor=ACTOR,
            now=utcnow(),
            misfire_grace=self.settings.misfire_grace,
        )

    async def _fan_out_started(self, report: TickReport) -> None:
        async with self.database.connection() as connection:
            waiting = await campaigns.campaigns_to_fan_out(connection)
        for campaign_id in waiting:
            if not self.lock.is_leader:
                report.leader = False
                return
            await self._fan_out_one(campaign_id, report)
            await self._start_due(report)  # a long fan-out must not make the next campaign late

    async def _fan_out_one(self, campaign_id: int, report: TickReport) -> None:
        started = time.perf_counter()
        try:
            result = await in_transaction(self.database, partial(self._fan_out_in, campaign_id))
        except Exception as error:
            report.errors += 1
            await self._fan_out_failed(campaign_id, error, report)
            return
        self._fanout_failures.pop(campaign_id, None)
        if result is None:
            return  # fanned out by someone else, or cancelled meanwhile
        seconds = time.perf_counter() - started
        metrics.fanout_duration.observe(seconds)
        report.fanned_out.append(campaign_id)
        log_event(
            logger,
            "fanned out",
            campaign_id=campaign_id,
            run_id=result.run_id,
            seconds=round(seconds, 3),
            **result.counts,
        )
        if result.finished is not None:
            self._finished(result.finished, report)
        else:
            await self.wakeups.notify("workers")

    async def _fan_out_in(
        self, campaign_id: int, connection: AsyncConnection
    ) -> FanOutResult | None:
        counts = await fan_out(connection, campaign_id, rules=self.rules, now=utcnow())
        if counts is None:
            return None
        run = await runs.live_run(connection, campaign_id)
        finished = None
        if counts.get("queued", 0) == 0:
            finished = await runs.finish_if_done(connection, campaign_id, now=utcnow())
        return FanOutResult(counts, None if run is None else int(run["id"]), finished)

    async def _fan_out_failed(self, campaign_id: int, error: Exception, report: TickReport) -> None:
        failures = self._fanout_failures.get(campaign_id, 0) + 1
        self._fanout_failures[campaign_id] = failures
        run_id = await self._live_run_id(campaign_id)
        fields: dict[str, Any] = {"campaign_id": campaign_id, "run_id": run_id}
        if failures < MAX_FANOUT_FAILURES:
            logger.warning("fan-out failed; will retry", exc_info=error, extra=fields)
            return
        logger.error("fan-out failed; closing the run", exc_info=error, extra=fields)
        message = f"{type(error).__name__}: {error}"[:1000]

        async def close(connection: AsyncConnection) -> Row | None:
            return await runs.fail_unfanned(connection, campaign_id, now=utcnow(), error=message)

        closed = await in_transaction(self.database, close)
        self._fanout_failures.pop(campaign_id, None)
        if closed is not None:
            metrics.runs_finished.labels(outcome="failed").inc()
            report.failed.append(campaign_id)

    async def _live_run_id(self, campaign_id: int) -> int | None:
        try:
            async with self.database.connection() as connection:
                run = await runs.live_run(connection, campaign_id)
        except Exception:
            return None
        return None if run is None else int(run["id"])

    async def _finish_done(self, report: TickReport) -> None:
        """Close sending campaigns whose deliveries are all final (workers may have finished),
        and move the others' marks up to their lowest unfinished delivery
        (``store.unfinished``)."""
        async with self.database.connection() as connection:
            found = await unfinished.probe(connection)
        for campaign_id, start in found.marks.items():  # one row a transaction: no lock order
            await in_transaction(
                self.database, partial(unfinished.mark, marks={campaign_id: start})
            )
        for campaign_id in found.done:
            finished = await in_transaction(self.database, partial(self._finish_in, campaign_id))
            if finished is not None:
                self._finished(finished, report)

    async def _expire(self, report: TickReport) -> None:
        """Deferred deliveries still queued at their campaign's deadline are skipped
        (``store.deferral``); the scheduler wakes at each deadline for it."""
        now = utcnow()
        async with self.database.connection() as connection:
            if not await any_expired(connection, now=now):
                return
        skipped = await in_transaction(self.database, partial(skip_expired, now=now))
        if skipped:
            log_event(
                logger,
                "deferred deliveries not sent by their deadline; skipped",
                level=logging.WARNING,
                count=skipped,
            )

    async def _keep_due_times(self, report: TickReport) -> None:
        """Deliveries whose send window closed wait for the next opening
        (``store.due_times``); workers are woken when a wave or a window comes due."""
        now = utcnow()
        moved = await in_transaction(self.database, partial(roll_windows, now=now))
        if moved:
            log_event(
                logger, "send windows closed; deliveries wait for the next opening", count=moved
            )
        change, self._next_change = self._next_change, None
        if change is not None and change <= now:
            await self.wakeups.notify("workers")

    async def _finish_in(self, campaign_id: int, connection: AsyncConnection) -> Row | None:
        return await runs.finish_if_done(connection, campaign_id, now=utcnow())

    def _finished(self, campaign: Row, report: TickReport) -> None:
        metrics.runs_finished.labels(outcome=campaign["status"]).inc()
        report.finished.append(int(campaign["id"]))
        log_event(logger, "run finished", campaign_id=campaign["id"], status=campaign["status"])

    async def _work_left(self) -> bool:
        async with self.database.connection() as connection:
            due = await campaigns.due_campaign_ids(connection, now=utcnow(), limit=1)
            return bool(due) or bool(await campaigns.campaigns_to_fan_out(connection))

    async def _seconds_to_sleep(self, report: TickReport) -> float:
        """Until the next due time, at most one interval (a full one after errors)."""
        interval = self.settings.scheduler_interval
        if report.errors or not report.leader:
            return interval
        async with self.database.connection() as connection:
            due = await campaigns.next_due_time(connection)
            if await campaigns.campaigns_to_fan_out(connection):
                return 0.0
            self._next_change = await next_window_change(connection, now=utcnow())
        if self._next_change is not None:  # a wave or a window opening or closing
            due = self._next_change if due is None else min(due, self._next_change)
        if due is None:
            return interval
        return min(interval, max(0.0, (due - utcnow()).total_seconds() + WAKE_MARGIN))

    async def _pause(self, stop: asyncio.Event, timeout: float) -> None:
        """Sleep ``timeout`` seconds, or less when stopped or woken on topic "scheduler"."""
        if timeout <= 0 or stop.is_set():
            return
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self.wakeups.wait(TOPIC, timeout))
        try:
            await asyncio.wait({stopped, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopped, woken):
                task.cancel()
            results = await asyncio.gather(stopped, woken, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log_event(logger, "wake-up wait failed", level=logging.WARNING, error=str(result))
