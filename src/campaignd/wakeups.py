"""Wake-ups: tell the scheduler and workers that there is work now, instead of waiting.

In-process (one instance) by default; shared through Redis pub/sub when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol


class Wakeups(Protocol):
    async def notify(self, topic: str) -> None:
        """Wake whoever waits on ``topic`` ("scheduler" or "workers")."""

    async def wait(self, topic: str, timeout: float) -> bool:
        """Wait until notified or ``timeout`` seconds pass; True when notified."""

    async def close(self) -> None: ...


class LocalWakeups:
    """Wake-ups within one process."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def _event(self, topic: str) -> asyncio.Event:
        return self._events.setdefault(topic, asyncio.Event())

    async def notify(self, topic: str) -> None:
        self._event(topic).set()

    async def wait(self, topic: str, timeout: float) -> bool:
        event = self._event(topic)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(0.0, timeout))
        woken = event.is_set()
        event.clear()
        return woken

    async def close(self) -> None:
        return None
