"""Rendering for sending, where a runaway template cannot hold up the others.

A message is first rendered on the event loop with a deadline of a few milliseconds
(``INLINE_TIMEOUT``), which almost every template meets by far (a typical message takes
well under a tenth of a millisecond). A render that goes over it stops there, and that
message, and every later one of the campaign, is rendered in the worker's render thread
under the full limits (``TEMPLATE_TIMEOUT`` and the others). So the event loop is never
held by a template for more than a few milliseconds, and ordinary messages pay no thread
hop. The render thread takes one render at a time: while it is busy, a sender hands its
slow message back instead of waiting, so a slow campaign occupies one connection at most.
The deadline is the loop's wall clock, but only a render that also spent a good part of it
on the CPU marks its campaign slow (``SLOW_SHARE``): a quick render whose thread was
preempted (a busy machine, the signing process) is not the template's doing. Nor is a
campaign slow for good: once a second (``RETRY_INLINE_SECONDS``) one of its messages is
tried inline again, and a render that meets the deadline brings the campaign back to the
event loop; a spike of the machine (a garbage collection, a first-time import in the
middle of a render) then costs a second of the thread, not the rest of the campaign.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from campaignd.delivery.dkim import Signer
from campaignd.delivery.jobs import Job
from campaignd.delivery.messages import Message, MessageBuilder
from campaignd.domain.templates import RenderLimitExceeded

INLINE_TIMEOUT = 0.005  # seconds a render may hold the event loop
SLOW_SHARE = 0.5
"""A render over the inline deadline marks its campaign slow only when it used at least this
share of the deadline in CPU time: on a busy machine the loop's thread can be preempted in
the middle of a quick render, and that says nothing about the template (such a message is
rendered again in the thread, the campaign's next ones inline as before)."""
RETRY_INLINE_SECONDS = 1.0
"""How long a campaign marked slow renders in the thread before one message is tried
inline again."""
CPU_READING_SECONDS = INLINE_TIMEOUT * (1 - SLOW_SHARE) / 2
"""How old the reading of the event loop thread's CPU clock that a render's CPU time is
measured from may be (``CpuClock``)."""

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


@dataclass(frozen=True)
class CampaignBuilders:
    """A campaign's builder under the full limits, and one with the inline deadline (None
    when even the trial render needs longer: every message goes to the thread); the signer
    of its From domain's DKIM keys (None: sent unsigned)."""

    full: MessageBuilder
    inline: MessageBuilder | None
    signer: Signer | None = None


class CpuClock:
    """The CPU time an inline render used, without reading the thread's CPU clock for every
    message: that clock has no fast path and costs a system call, a few µs a message.

    The clock is read when a render starts only if the last reading is older than
    ``CPU_READING_SECONDS``. A thread cannot use more CPU than the wall time that passes,
    so a render used at least the CPU clock's advance since that reading less the wall
    time from the reading to the render's start: a lower bound, never more than
    ``CPU_READING_SECONDS`` under the render's CPU time. A render held up by the machine
    is never counted slow; a slow one is, since the bound stays far above the threshold.
    """

    def __init__(self) -> None:
        self._wall = -float("inf")
        self._cpu = 0.0

    def start(self) -> float:
        """Now, on the wall clock, for ``used_since``."""
        now = time.perf_counter()
        if now - self._wall > CPU_READING_SECONDS:
            self._wall, self._cpu = now, time.thread_time()
        return now

    def used_since(self, started: float) -> float:
        """At least the CPU time this thread used since ``started`` (from ``start``)."""
        return time.thread_time() - self._cpu - (started - self._wall)


class Busy(Exception):
    """The render thread is rendering another message: try this one later."""


class RenderThread:
    """One thread for a worker's template work (compiling builders, slow renders)."""

    def __init__(self, *, retry_inline_seconds: float = RETRY_INLINE_SECONDS) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._rendering = False
        self._slow: dict[int, float] = {}  # campaign -> when to try it inline again
        self._retry_inline_seconds = retry_inline_seconds
        self._cpu = CpuClock()

    async def run(
        self,
        function: Callable[Parameters, Result],
        *args: Parameters.args,
        **kwargs: Parameters.kwargs,
    ) -> Result:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="campaignd-render")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def message(self, builders: CampaignBuilders, job: Job) -> Message:
        """``job``'s message; raises as ``MessageBuilder.build`` does, or ``Busy``."""
        retry_at = self._slow.get(job.campaign_id)
        if builders.inline is not None and (retry_at is None or time.monotonic() >= retry_at):
            started = self._cpu.start()
            try:
                message = builders.inline.build(job.delivery_id, job.email, job.variables)
            except RenderLimitExceeded:
                if retry_at is not None or (
                    self._cpu.used_since(started) >= INLINE_TIMEOUT * SLOW_SHARE
                ):
                    self._slow[job.campaign_id] = time.monotonic() + self._retry_inline_seconds
            else:
                self._slow.pop(job.campaign_id, None)
                return message
        if self._rendering:
            raise Busy(job.delivery_id)
        self._rendering = True
        try:
            return await self.run(builders.full.build, job.delivery_id, job.email, job.variables)
        finally:
            self._rendering = False

    def forget(self, campaign_id: int) -> None:
        self._slow.pop(campaign_id, None)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
