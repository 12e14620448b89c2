"""The one way a Redis client is made: with timeouts and keepalives from the settings.

A Redis that stops answering must never hang the scheduler or a worker: every connect and
every call gives up after its timeout, and the callers fall back (a wake-up waits out its
poll interval, the lock is treated as lost, the rate limiter waits and retries).
"""

from __future__ import annotations

from redis.asyncio import Redis

from campaignd.settings import Settings


def connect_redis(url: str, settings: Settings) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_timeout=settings.redis_socket_timeout,
        socket_keepalive=True,
        health_check_interval=30,
    )
