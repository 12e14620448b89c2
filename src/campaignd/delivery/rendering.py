"""Rendering for sending: user templates run in a render thread, never on the event loop.

The feeder renders each claimed batch with one hop to the thread (not one per message).
Each campaign gets a budget of render time per round (``ROUND_BUDGET``); what it does not
reach in that time is handed back and claimed again in a later round. So a campaign whose
templates are slow (each render is bounded by ``TEMPLATE_TIMEOUT`` and the other limits)
progresses slowly without holding up the others; a typical batch renders in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import ParamSpec, TypeVar

from campaignd.delivery.jobs import Job
from campaignd.delivery.messages import MessageBuilder

ROUND_BUDGET = 0.05  # seconds of rendering per campaign per claim round

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


def render_batch(
    builder: MessageBuilder, jobs: Sequence[Job], budget: float
) -> tuple[list[Job], list[Job]]:
    """``jobs`` with their messages (or why not), as many as ``budget`` seconds allow (at
    least one); and the jobs not reached."""
    deadline = time.monotonic() + budget
    rendered: list[Job] = []
    for index, job in enumerate(jobs):
        if index and time.monotonic() > deadline:
            return rendered, list(jobs[index:])
        try:
            message = builder.build(job.delivery_id, job.email, job.variables)
        except Exception as error:
            rendered.append(replace(job, problem=f"template: {type(error).__name__}: {error}"))
        else:
            rendered.append(replace(job, message=message))
    return rendered, []


class RenderThread:
    """One thread for a worker's template work (compiling builders, rendering batches)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

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

    async def render(
        self, builder: MessageBuilder, jobs: Sequence[Job], budget: float = ROUND_BUDGET
    ) -> tuple[list[Job], list[Job]]:
        return await self.run(render_batch, builder, jobs, budget)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
