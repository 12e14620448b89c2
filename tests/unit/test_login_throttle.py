"""The in-process sign-in throttle: a window per client address, memory bounded."""

from __future__ import annotations

from campaignd.api.proxies import forwarded_client, parse_networks
from campaignd.web.throttle import LocalLoginThrottle, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_window_opens_with_the_first_failure_and_ends() -> None:
    clock = Clock()
    throttle = LocalLoginThrottle(2, 60.0, clock=clock)
    await throttle.failed("a")
    assert await throttle.retry_after("a") == 0
    clock.now += 10
    await throttle.failed("a")
    assert await throttle.retry_after("a") == 50.0
    assert await throttle.retry_after("b") == 0
    clock.now += 50
    assert await throttle.retry_after("a") == 0
    await throttle.failed("a")
    assert await throttle.retry_after("a") == 0


async def test_memory_is_bounded() -> None:
    clock = Clock()
    throttle = LocalLoginThrottle(1, 60.0, clock=clock, max_clients=3)
    for name in "abcde":
        await throttle.failed(name)
    assert await throttle.retry_after("a") == 0
    assert await throttle.retry_after("e") == 60.0


def test_client_keys() -> None:
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key(None) == "unknown"


def test_the_client_is_the_rightmost_address_not_a_trusted_proxy() -> None:
    networks = parse_networks("10.0.0.0/8, ::1")
    assert forwarded_client("1.2.3.4, 198.51.100.1, 10.0.0.5", networks) == "198.51.100.1"
    assert forwarded_client("10.0.0.9, 10.0.0.5", networks) == "10.0.0.9"
    assert forwarded_client("", networks) is None
