"""Wake-ups in one process and across processes through a real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from campaignd.settings import Settings
from campaignd.wakeups import LocalWakeups, RedisWakeups, create_wakeups


async def test_local_wake_up_is_kept_until_the_next_wait() -> None:
    wakeups = LocalWakeups()

    await wakeups.notify("scheduler")

    assert await wakeups.wait("scheduler", 5)
    assert not await wakeups.wait("scheduler", 0)


async def test_redis_wake_up_reaches_another_instance(redis_url: str) -> None:
    prefix = f"campaignd-test:{uuid.uuid4().hex}"
    waiter = RedisWakeups(Redis.from_url(redis_url), prefix=prefix)
    notifier = RedisWakeups(Redis.from_url(redis_url), prefix=prefix)
    try:
        await waiter.start()
        waiting = asyncio.create_task(waiter.wait("scheduler", 10))
        await asyncio.sleep(0)
        started = time.monotonic()

        await notifier.notify("scheduler")

        assert await waiting
        assert time.monotonic() - started < 1.0
        assert not await waiter.wait("workers", 0)
    finally:
        await waiter.close()
        await notifier.close()


async def test_redis_wake_ups_of_another_prefix_are_ignored(redis_url: str) -> None:
    waiter = RedisWakeups(Redis.from_url(redis_url), prefix=f"campaignd-test:{uuid.uuid4().hex}")
    other = RedisWakeups(Redis.from_url(redis_url), prefix=f"campaignd-test:{uuid.uuid4().hex}")
    try:
        await waiter.start()
        await other.notify("scheduler")
        assert not await waiter.wait("scheduler", 0.2)
    finally:
        await waiter.close()
        await other.close()


async def test_unreachable_redis_falls_back_to_the_timeout() -> None:
    wakeups = RedisWakeups(Redis.from_url("redis://127.0.0.1:1/0"))
    try:
        await wakeups.notify("workers")  # logged, not raised
        assert await wakeups.wait("workers", 0.1)  # the local waiter still hears it
        assert not await wakeups.wait("workers", 0.1)
    finally:
        await wakeups.close()


async def test_create_wakeups_picks_by_url(redis_url: str) -> None:
    settings = Settings(_env_file=None, redis_prefix=f"campaignd-test:{uuid.uuid4().hex}")  # type: ignore[call-arg]
    shared = create_wakeups(settings.model_copy(update={"redis_url": redis_url}))
    try:
        assert isinstance(create_wakeups(settings), LocalWakeups)
        assert isinstance(shared, RedisWakeups)
        assert shared.channel("workers") == f"{settings.redis_prefix}:wakeup:workers"
    finally:
        await shared.close()
