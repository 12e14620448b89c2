"""Wake-ups: tell the scheduler and workers that there is work now, instead of waiting.

In-process (one instance) by default; shared through Redis pub/sub when ``REDIS_URL`` is set.
A wake-up is only a hint: every loop also polls on its own interval, so a lost message
delays work by at most one interval and never loses it.

A halt says that a campaign stopped sending (paused or cancelled): every worker that hears
it stops starting transactions for that campaign at once, without asking the database.
Workers also re-read which campaigns are sending on their own, so a lost halt delays the
stop by at most one poll, as with wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from campaignd.logs import log_event
from campaignd.redis_client import connect_redis
from campaignd.settings import Settings

logger = logging.getLogger("campaignd.wakeups")

RECONNECT_DELAY = 1.0
HALT_TOPIC = "halt"

HaltListener = Callable[[int], None]


class Wakeups(Protocol):
    async def notify(self, topic: str) -> None:
        """Wake whoever waits on ``topic`` ("scheduler" or "workers")."""

    async def wait(self, topic: str, timeout: float) -> bool:
        """Wait until notified or ``timeout`` seconds pass; True when notified."""

    async def halt(self, campaign_id: int) -> None:
        """Tell every worker that ``campaign_id`` stopped sending."""

    def on_halt(self, listener: HaltListener) -> None:
        """Call ``listener(campaign_id)`` for every halt heard (in this process or another)."""

    async def start(self) -> None:
        """Start listening to other instances (a worker calls it before it claims)."""

    async def close(self) -> None: ...


class LocalWakeups:
    """Wake-ups within one process."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._halt_listeners: list[HaltListener] = []

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

    async def halt(self, campaign_id: int) -> None:
        self.halted(campaign_id)

    def halted(self, campaign_id: int) -> None:
        for listener in list(self._halt_listeners):
            try:
                listener(campaign_id)
            except Exception as error:  # one listener's bug never keeps the others deaf
                log_event(logger, "halt listener failed", level=logging.ERROR, error=repr(error))

    def on_halt(self, listener: HaltListener) -> None:
        self._halt_listeners.append(listener)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisWakeups:
    """Wake-ups across instances: ``PUBLISH {prefix}:wakeup:{topic}``.

    One pattern subscription per process feeds local events, so a notification that
    arrives between two waits is kept until the next wait (as with ``LocalWakeups``).
    When Redis is unreachable, waits fall back to their timeout.
    """

    def __init__(self, client: Redis, *, prefix: str = "campaignd") -> None:
        self._client = client
        self._channel_prefix = f"{prefix}:wakeup:"
        self._local = LocalWakeups()
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._subscribed = asyncio.Event()

    def channel(self, topic: str) -> str:
        return self._channel_prefix + topic

    async def notify(self, topic: str) -> None:
        await self._local.notify(topic)
        try:
            await self._client.publish(self.channel(topic), "1")
        except RedisError as error:
            log_event(
                logger,
                "wake-up not published",
                level=logging.WARNING,
                topic=topic,
                error=str(error),
            )

    async def wait(self, topic: str, timeout: float) -> bool:
        await self.start()
        return await self._local.wait(topic, timeout)

    async def halt(self, campaign_id: int) -> None:
        self._local.halted(campaign_id)
        try:
            await self._client.publish(self.channel(HALT_TOPIC), str(campaign_id))
        except RedisError as error:
            log_event(
                logger,
                "halt not published",
                level=logging.WARNING,
                campaign_id=campaign_id,
                error=str(error),
            )

    def on_halt(self, listener: HaltListener) -> None:
        self._local.on_halt(listener)

    async def start(self) -> None:
        """Subscribe and start listening (once); waits and tests call it before relying on it."""
        async with self._starting:
            if self._listener is None:
                self._listener = asyncio.create_task(self._listen(), name="wakeups-listener")
                await self._subscribed.wait()

    async def _listen(self) -> None:
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.psubscribe(self._channel_prefix + "*")
                    self._subscribed.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=RECONNECT_DELAY
                        )
                        if message is not None:
                            await self._deliver(message)
            except (RedisError, OSError) as error:
                self._subscribed.set()  # waiters fall back to their timeouts meanwhile
                log_event(
                    logger, "wake-up listener reconnecting", level=logging.WARNING, error=str(error)
                )
                await asyncio.sleep(RECONNECT_DELAY)

    async def _deliver(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if not (isinstance(channel, str) and channel.startswith(self._channel_prefix)):
            return
        topic = channel.removeprefix(self._channel_prefix)
        if topic != HALT_TOPIC:
            await self._local.notify(topic)
            return
        data = message.get("data")
        text = data.decode() if isinstance(data, bytes) else str(data)
        if text.isdigit():
            self._local.halted(int(text))

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self._client.aclose()


def create_wakeups(settings: Settings) -> Wakeups:
    """Redis pub/sub when ``REDIS_URL`` is set, else in-process."""
    if settings.redis_url is None:
        return LocalWakeups()
    client = connect_redis(settings.redis_url, settings)
    return RedisWakeups(client, prefix=settings.redis_key_prefix)
