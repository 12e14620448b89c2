"""The scheduler's leader lock: in-process for one instance, Redis for several.

The lock only keeps several instances from doing the same work at once. It never decides
correctness: every claim of a campaign is its own conditional update in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from campaignd import metrics
from campaignd.logs import log_event
from campaignd.redis_client import connect_redis
from campaignd.settings import Settings

logger = logging.getLogger("campaignd.scheduling.lock")

WAITING_LOG_INTERVAL = 60.0
"""Seconds between two log lines of an instance that keeps waiting for the lock (or
keeps failing to reach Redis for it)."""

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
"""Extend the key's expiry only while it still holds our token."""

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
"""Delete the key only while it still holds our token (never another holder's lock)."""


class LeaderLock(Protocol):
    @property
    def is_leader(self) -> bool: ...

    async def acquire(self) -> bool:
        """Try once; True when this instance holds the lock now."""

    async def release(self) -> None: ...

    async def close(self) -> None: ...

    def describe(self) -> str:
        """Where this instance stands, in words (``/readyz`` shows it)."""


def instance_name() -> str:
    """``host:pid``: which process holds a lock, for whoever waits for it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LocalLock:
    """One instance, no Redis: the only scheduler in the process is the leader."""

    def __init__(self) -> None:
        self._held = False

    @property
    def is_leader(self) -> bool:
        return self._held

    async def acquire(self) -> bool:
        self._held = True
        metrics.lock_owned.set(1)
        return True

    async def release(self) -> None:
        self._held = False
        metrics.lock_owned.set(0)

    async def close(self) -> None:
        await self.release()

    def describe(self) -> str:
        if self._held:
            return "leader (in-process lock: no REDIS_URL, this is the only scheduler)"
        return "not started"


class RedisLock:
    """``SET key token NX PX ttl``, renewed every third of the TTL while held.

    ``is_leader`` turns False the moment a renewal fails or the TTL passes without one
    (for instance while the event loop was blocked), so a leader that may have lost the
    key stops claiming at once instead of when it notices.

    The key's value is the holder's token, ``host:pid:random``, so an instance that waits
    for it can say who holds it. Waiting, or failing to reach Redis, is logged once a
    minute at most (``WAITING_LOG_INTERVAL``) and described by ``describe()``.
    """

    def __init__(self, client: Redis, *, ttl: float, key: str = "campaignd:scheduler") -> None:
        self._client = client
        self._ttl_ms = max(1, int(ttl * 1000))
        self.key = key
        self.token = f"{instance_name()}:{secrets.token_hex(16)}"
        self._valid_until = 0.0
        self._renewer: asyncio.Task[None] | None = None
        self._state = "not started"
        self._logged: tuple[str, float] | None = None
        """What was last logged about not holding the lock ("waiting", "unavailable"), when."""

    @property
    def ttl(self) -> float:
        return self._ttl_ms / 1000

    @property
    def is_leader(self) -> bool:
        return time.monotonic() < self._valid_until

    async def acquire(self) -> bool:
        if self.is_leader:
            return True
        started = time.monotonic()
        try:
            taken = await self._client.set(self.key, self.token, nx=True, px=self._ttl_ms)
            if not taken:
                taken = await self._extend()
        except RedisError as error:
            self._state = f"cannot reach Redis for the leader lock {self.key}: {error}"
            if self._time_to_log("unavailable"):
                log_event(
                    logger,
                    "lock unavailable",
                    level=logging.WARNING,
                    key=self.key,
                    error=str(error),
                )
            return False
        if not taken:
            await self._waiting()
            return False
        self._valid_until = started + self.ttl
        self._state = f"leader (holds the leader lock {self.key})"
        self._logged = None
        metrics.lock_owned.set(1)
        log_event(logger, "lock acquired", key=self.key)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="lock-renewal")
        return True

    def describe(self) -> str:
        if self.is_leader:
            return f"leader (holds the leader lock {self.key})"
        return self._state

    def _time_to_log(self, kind: str) -> bool:
        """True when ``kind`` begins (or changes), then once a minute at most."""
        now = time.monotonic()
        if self._logged is not None:
            last_kind, last_time = self._logged
            if last_kind == kind and now - last_time < WAITING_LOG_INTERVAL:
                return False
        self._logged = (kind, now)
        return True

    async def _waiting(self) -> None:
        """Another instance holds the lock: say so (once a minute), naming it and the key."""
        if not self._time_to_log("waiting"):
            return
        try:
            holder = await self._client.get(self.key)
        except RedisError:
            holder = None
        held_by = "another instance"
        if isinstance(holder, bytes | str):
            name = holder.decode() if isinstance(holder, bytes) else holder
            held_by = f"another instance, {name.rsplit(':', 1)[0]}"
        self._state = f"waiting for the leader lock {self.key} (held by {held_by})"
        log_event(
            logger,
            f"waiting for the scheduler leader lock, held by {held_by}",
            key=self.key,
            ttl=self.ttl,
        )

    async def _extend(self) -> bool:
        """Compare-and-pexpire: True when the key still holds our token."""
        result = await self._client.eval(RENEW, 1, self.key, self.token, str(self._ttl_ms))
        return bool(result)

    async def renew(self) -> bool:
        """Renew once; on failure ``is_leader`` turns False at once."""
        started = time.monotonic()
        try:
            renewed = await self._extend()
        except RedisError as error:
            log_event(logger, "lock renewal failed", level=logging.WARNING, error=str(error))
            renewed = False
        if renewed:
            self._valid_until = started + self.ttl
            return True
        self._lose()
        return False

    def _lose(self) -> None:
        if self._valid_until:
            log_event(logger, "lock lost", level=logging.WARNING, key=self.key)
        self._valid_until = 0.0
        self._state = f"lost the leader lock {self.key}; trying to take it again"
        metrics.lock_owned.set(0)

    async def _renew_forever(self) -> None:
        while self.is_leader:
            await asyncio.sleep(self.ttl / 3)
            if not await self.renew():
                return

    async def _stop_renewing(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not asyncio.current_task():
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def release(self) -> None:
        """Compare-and-delete: only our own key is removed."""
        await self._stop_renewing()
        was_leader = self.is_leader
        self._valid_until = 0.0
        self._state = "released"
        metrics.lock_owned.set(0)
        try:
            await self._client.eval(RELEASE, 1, self.key, self.token)
        except RedisError as error:
            log_event(logger, "lock release failed", level=logging.WARNING, error=str(error))
            return
        if was_leader:
            log_event(logger, "lock released", key=self.key)

    async def close(self) -> None:
        await self.release()
        await self._client.aclose()


def create_lock(settings: Settings) -> LeaderLock:
    """A Redis lock (``{REDIS_PREFIX}:scheduler``) when ``REDIS_URL`` is set, else the
    in-process one."""
    if settings.redis_url is None:
        return LocalLock()
    client = connect_redis(settings.redis_url, settings)
    return RedisLock(client, ttl=settings.lock_ttl, key=f"{settings.redis_key_prefix}:scheduler")
