"""``SEND_RATE``: messages per second across all instances.

Both limiters hand out send slots ``1 / rate`` seconds apart (a reservation per message:
the caller sleeps until its slot), so the rate holds however many workers ask. With Redis
the next free slot lives in one key and is advanced by a script using the Redis clock, so
every instance shares one schedule whatever its own clock says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from campaignd.logs import log_event
from campaignd.redis_client import connect_redis
from campaignd.settings import Settings

logger = logging.getLogger("campaignd.delivery")

BURST_SECONDS = 0.05  # slots missed within this window may be caught up at once

RESERVE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now - burst then slot = now - burst end
redis.call('SET', KEYS[1], slot + interval, 'PX', 60000)
return slot - now
"""


class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Wait for this message's send slot."""

    async def close(self) -> None: ...


class LocalRateLimiter:
    """Slots within one process."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def acquire(self) -> None:
        now = time.monotonic()
        slot = max(self._next, now - BURST_SECONDS)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Slots shared by every instance through one Redis key."""

    def __init__(self, redis: Redis, rate: float, *, key: str) -> None:
        self.redis = redis
        self.key = key
        self.interval_us = max(1, round(1_000_000 / rate))
        self._script = redis.register_script(RESERVE_SCRIPT)

    async def acquire(self) -> None:
        """Wait for a slot; while Redis is unreachable, wait for it (the rate is global)."""
        arguments = [self.interval_us, round(BURST_SECONDS * 1_000_000)]
        while True:
            try:
                wait_us = int(cast(int, await self._script(keys=[self.key], args=arguments)))
                break
            except (RedisError, OSError) as error:
                log_event(
                    logger, "send rate: redis unavailable", level=logging.WARNING, error=str(error)
                )
                await asyncio.sleep(1.0)
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)

    async def close(self) -> None:
        await self.redis.aclose()


def create_rate_limiter(settings: Settings) -> RateLimiter | None:
    """None when ``SEND_RATE`` is 0 (unlimited); shared through ``{REDIS_PREFIX}:send-rate``
    when ``REDIS_URL`` is set."""
    if settings.send_rate <= 0:
        return None
    if settings.redis_url:
        client = connect_redis(settings.redis_url, settings)
        key = f"{settings.redis_key_prefix}:send-rate"
        return RedisRateLimiter(client, settings.send_rate, key=key)
    return LocalRateLimiter(settings.send_rate)
