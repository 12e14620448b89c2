"""Failed sign-ins per client address: after ``LOGIN_MAX_FAILURES`` wrong tokens within
``LOGIN_FAILURE_WINDOW`` seconds, that address gets 429 until the window ends.

The window opens with the first failure and does not slide: guessing is held to
``LOGIN_MAX_FAILURES`` per window, and an address that stops trying is free again when its
window ends. IPv6 clients are counted per /64 (one host usually holds a whole /64).
Without Redis the counts live in this process (one instance); with ``REDIS_URL`` every
instance shares them under ``{REDIS_PREFIX}:login-failures:{address}``. When Redis cannot
be reached the process falls back to its own counts rather than refusing everyone.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from campaignd.logs import log_event
from campaignd.redis_client import connect_redis
from campaignd.settings import Settings

logger = logging.getLogger("campaignd.web")

MAX_CLIENTS = 100_000
"""Addresses the in-process counter remembers at most (the oldest windows are dropped)."""

FAIL_SCRIPT = """
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return failures
"""


def client_key(host: str | None) -> str:
    """What failures are counted by: the IPv4 address, or the IPv6 /64."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class LoginThrottle(Protocol):
    """Counts events per client in windows (wrong tokens at sign-in; subscribe requests)."""

    async def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0: it may try now."""

    async def failed(self, client: str) -> None:
        """Count one event (a wrong token, a request) from ``client``."""

    async def close(self) -> None: ...


@dataclass
class _Window:
    failures: int
    ends: float


class LocalLoginThrottle:
    """Counts in this process (one instance)."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._windows: dict[str, _Window] = {}

    async def retry_after(self, client: str) -> float:
        entry = self._windows.get(client)
        if entry is None or entry.failures < self.limit:
            return 0.0
        return max(0.0, entry.ends - self._clock())

    async def failed(self, client: str) -> None:
        now = self._clock()
        entry = self._windows.get(client)
        if entry is None or entry.ends <= now:
            self._windows.pop(client, None)
            self._windows[client] = _Window(1, now + self.window)
            self._forget_old(now)
        else:
            entry.failures += 1

    def _forget_old(self, now: float) -> None:
        if len(self._windows) <= self._max_clients:
            return
        self._windows = {key: entry for key, entry in self._windows.items() if entry.ends > now}
        while len(self._windows) > self._max_clients:
            del self._windows[next(iter(self._windows))]

    async def close(self) -> None:
        return None


class RedisLoginThrottle:
    """Counts shared by every instance, one expiring key per client address."""

    def __init__(
        self, redis: Redis, limit: int, window: float, *, prefix: str, name: str = "login-failures"
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window
        self.name = name
        self.prefix = f"{prefix}:{name}:"
        self._script = redis.register_script(FAIL_SCRIPT)
        self._fallback = LocalLoginThrottle(limit, window)

    def key(self, client: str) -> str:
        return self.prefix + client

    def _unavailable(self, error: Exception) -> None:
        log_event(
            logger,
            f"{self.name} throttle: redis unavailable, counting in this process",
            level=logging.WARNING,
            error=str(error),
        )

    async def retry_after(self, client: str) -> float:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self.key(client))
                pipe.pttl(self.key(client))
                failures, remaining_ms = await pipe.execute()
        except (RedisError, OSError) as error:
            self._unavailable(error)
            return await self._fallback.retry_after(client)
        if failures is None or int(failures) < self.limit:
            return 0.0
        return max(0.0, int(remaining_ms) / 1000) if int(remaining_ms) > 0 else 0.0

    async def failed(self, client: str) -> None:
        arguments = [max(1, round(self.window * 1000))]
        try:
            await self._script(keys=[self.key(client)], args=arguments)
        except (RedisError, OSError) as error:
            self._unavailable(error)
            await self._fallback.failed(client)

    async def close(self) -> None:
        await self.redis.aclose()


def login_throttle(request: Request) -> LoginThrottle:
    """The application's throttle, made on first use (closed when the application stops)."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = create_login_throttle(state.services.settings)
        state.login_throttle = throttle
    return throttle


def create_login_throttle(settings: Settings) -> LoginThrottle:
    return create_throttle(
        settings,
        limit=settings.login_max_failures,
        window=settings.login_failure_window,
        name="login-failures",
    )


def create_throttle(settings: Settings, *, limit: int, window: float, name: str) -> LoginThrottle:
    """A throttle of ``limit`` events per client and ``window`` seconds; with Redis its
    keys are ``{REDIS_PREFIX}:{name}:{client}``."""
    if settings.redis_url:
        client = connect_redis(settings.redis_url, settings)
        return RedisLoginThrottle(
            client, limit, window, prefix=settings.redis_key_prefix, name=name
        )
    return LocalLoginThrottle(limit, window)


def subscribe_throttle(request: Request) -> LoginThrottle:
    """The public subscribe form's throttle (``SUBSCRIBE_MAX_REQUESTS`` per client and
    ``SUBSCRIBE_WINDOW``), made on first use and closed when the application stops."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "subscribe_throttle", None)
    if throttle is None:
        settings = state.services.settings
        throttle = create_throttle(
            settings,
            limit=settings.subscribe_max_requests,
            window=settings.subscribe_window,
            name="subscribe-requests",
        )
        state.subscribe_throttle = throttle
    return throttle
