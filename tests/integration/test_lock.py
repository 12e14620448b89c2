"""The leader lock on a real Redis: ownership by token, renewal, compare-and-delete, loss."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from campaignd.scheduling import LocalLock, RedisLock, Scheduler, create_lock
from campaignd.scheduling.lock import instance_name
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.wakeups import LocalWakeups
from tests.integration.scheduling_helpers import (
    make_campaign,
    make_organization,
    runs_of,
    soon,
    wait_until,
)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    """A key of this test only: others use the same Redis at the same time."""
    return f"campaignd-test:lock:{uuid.uuid4().hex}"


@pytest.fixture
async def make_lock(redis_url: str, key: str) -> AsyncIterator[Callable[..., RedisLock]]:
    locks: list[RedisLock] = []

    def make(ttl: float = 5.0) -> RedisLock:
        lock = RedisLock(Redis.from_url(redis_url), ttl=ttl, key=key)
        locks.append(lock)
        return lock

    yield make
    for lock in locks:
        await lock.close()


async def test_second_holder_is_refused(make_lock: Callable[..., RedisLock]) -> None:
    first, second = make_lock(), make_lock()

    assert await first.acquire()
    assert not await second.acquire()

    assert first.is_leader and not second.is_leader


async def test_acquire_again_while_held_keeps_it(make_lock: Callable[..., RedisLock]) -> None:
    lock = make_lock()

    assert await lock.acquire() and await lock.acquire()


async def test_key_holds_the_token_with_a_ttl(
    make_lock: Callable[..., RedisLock], redis: Redis, key: str
) -> None:
    lock = make_lock(ttl=5.0)
    await lock.acquire()

    assert (await redis.get(key)).decode() == lock.token
    assert 0 < await redis.pttl(key) <= 5000


async def test_renewal_keeps_the_lock_past_its_ttl(
    make_lock: Callable[..., RedisLock], redis: Redis, key: str
) -> None:
    """Renewal runs every third of the TTL: a TTL of a second leaves two thirds of one for
    a busy machine to run it late, where 0.3 s left 0.2 s and lost the key under load."""
    lock, rival = make_lock(ttl=1.0), make_lock(ttl=1.0)
    await lock.acquire()
    held_until = time.monotonic() + 3.5  # past three TTLs

    while time.monotonic() < held_until:
        assert lock.is_leader
        assert not await rival.acquire()
        await asyncio.sleep(0.05)

    assert (await redis.get(key)).decode() == lock.token


async def test_release_deletes_only_its_own_lock(
    make_lock: Callable[..., RedisLock], redis: Redis, key: str
) -> None:
    """A slow leader whose key expired and was taken by another must not delete that one."""
    slow, other = make_lock(), make_lock()
    await slow.acquire()
    await redis.delete(key)  # as if it had expired
    assert await other.acquire()

    await slow.release()

    assert (await redis.get(key)).decode() == other.token
    assert other.is_leader and not slow.is_leader


async def test_release_frees_the_lock_for_another(make_lock: Callable[..., RedisLock]) -> None:
    first, second = make_lock(), make_lock()
    await first.acquire()

    await first.release()

    assert not first.is_leader
    assert await second.acquire()


async def test_a_failed_renewal_makes_is_leader_false_at_once(
    make_lock: Callable[..., RedisLock], redis: Redis, key: str
) -> None:
    lock = make_lock(ttl=30.0)
    await lock.acquire()
    await redis.set(key, "someone-else")

    assert not await lock.renew()
    assert not lock.is_leader
    assert (await redis.get(key)).decode() == "someone-else"


async def test_losing_the_key_is_noticed_by_the_renewal(
    make_lock: Callable[..., RedisLock], redis: Redis, key: str
) -> None:
    """The renewal (every second here) notices, long before the lock's own validity (6 s)
    would have run out: only the renewal can make ``is_leader`` false within 4 s."""
    lock = make_lock(ttl=6.0)
    await lock.acquire()
    acquired = time.monotonic()

    await redis.delete(key)

    async def lost() -> bool:
        return not lock.is_leader

    await wait_until(lost, timeout=4.0)
    assert time.monotonic() - acquired < lock.ttl
    assert await redis.get(key) is None  # the renewal did not put the key back


async def test_unreachable_redis_means_not_leader(key: str) -> None:
    lock = RedisLock(Redis.from_url("redis://127.0.0.1:1/0"), ttl=1.0, key=key)
    try:
        assert not await lock.acquire()
        assert not lock.is_leader
    finally:
        await lock.close()


async def test_a_scheduler_without_the_lock_claims_nothing(
    make_lock: Callable[..., RedisLock], database: Database, settings: Settings
) -> None:
    holder, follower = make_lock(), make_lock()
    await holder.acquire()
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-1))
    scheduler = Scheduler(database, settings, lock=follower, wakeups=LocalWakeups())

    report = await scheduler.tick()
    await scheduler.run_burst()

    assert not report.leader and not report.progressed
    assert await runs_of(database, campaign_id) == []

    await holder.release()
    assert (await scheduler.tick()).started == [campaign_id]


async def test_create_lock_picks_by_url(redis_url: str) -> None:
    settings = Settings(_env_file=None, redis_prefix=f"campaignd-test:{uuid.uuid4().hex}")  # type: ignore[call-arg]
    local = create_lock(settings)
    shared = create_lock(settings.model_copy(update={"redis_url": redis_url}))
    try:
        assert isinstance(local, LocalLock) and isinstance(shared, RedisLock)
        assert shared.key == f"{settings.redis_prefix}:scheduler"
        assert not local.is_leader and await local.acquire() and local.is_leader
        await local.release()
        assert not local.is_leader
    finally:
        await shared.close()


async def test_a_waiting_instance_says_so_once_a_minute_naming_the_key_and_holder(
    make_lock: Callable[..., RedisLock], key: str, caplog: pytest.LogCaptureFixture
) -> None:
    holder, waiter = make_lock(), make_lock()
    assert await holder.acquire()
    caplog.set_level(logging.INFO, logger="campaignd.scheduling.lock")
    for _ in range(3):
        assert not await waiter.acquire()
    said = [r for r in caplog.records if r.getMessage().startswith("waiting for the scheduler")]
    assert len(said) == 1 and said[0].__dict__["key"] == key
    assert waiter.describe() == (
        f"waiting for the leader lock {key} (held by another instance, {instance_name()})"
    )
    assert holder.describe() == f"leader (holds the leader lock {key})"

    await holder.release()
    assert await waiter.acquire()
    assert waiter.describe() == f"leader (holds the leader lock {key})"


async def test_an_unreachable_redis_is_described_and_logged_once(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = RedisLock(Redis.from_url("redis://127.0.0.1:1/0"), ttl=1.0, key=key)
    caplog.set_level(logging.INFO, logger="campaignd.scheduling.lock")
    try:
        for _ in range(3):
            assert not await lock.acquire()
        assert lock.describe().startswith(f"cannot reach Redis for the leader lock {key}: ")
        assert [r.getMessage() for r in caplog.records].count("lock unavailable") == 1
    finally:
        await lock.close()
