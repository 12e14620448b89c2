"""Wrong tokens at /admin/login are rate limited per client address (in-process or Redis)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

import campaignd.web
from campaignd.actions.services import Services
from campaignd.api.app import create_app
from tests.integration.test_web_pages import LIST, World, csrf_of

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world

LIMIT = 3


def limited(world: World, **changes: object) -> Services:
    settings = world.services.settings.model_copy(
        update={"login_max_failures": LIMIT, "login_failure_window": 60.0, **changes}
    )
    return Services(world.services.database, settings, world.services.wakeups)


def admin_app(services: Services) -> FastAPI:
    app = FastAPI()
    app.state.services = services
    campaignd.web.install(app)
    return app


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def attempt(
    client: httpx.AsyncClient, token: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    page = await client.get("/admin/login", headers=headers)
    return await client.post(
        "/admin/login",
        data={"token": token, "csrf_token": csrf_of(page.text)},
        headers=headers,
    )


@pytest.fixture
async def app(world: World) -> AsyncIterator[FastAPI]:
    application = admin_app(limited(world))
    yield application
    throttle = getattr(application.state, "login_throttle", None)
    if throttle is not None:
        await throttle.close()


async def test_wrong_tokens_from_one_address_get_429_and_others_are_unaffected(
    app: FastAPI, world: World
) -> None:
    async with client_from(app, "198.51.100.7") as guesser:
        for _ in range(LIMIT):
            assert (await attempt(guesser, "cmp_wrong")).status_code == 401
        refused = await attempt(guesser, "cmp_wrong")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many wrong tokens" in refused.text
        # while blocked, not even a right token is checked from there
        assert (await attempt(guesser, world.acme_admin)).status_code == 429
    async with client_from(app, "198.51.100.8") as colleague:
        answer = await attempt(colleague, world.acme_admin)
        assert answer.status_code == 303
        assert (await colleague.get(LIST)).status_code == 200


async def test_ipv6_clients_are_counted_per_64(app: FastAPI) -> None:
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
        async with client_from(app, host) as guesser:
            assert (await attempt(guesser, "cmp_wrong")).status_code == 401
    async with client_from(app, "2001:db8:1:2::99") as guesser:
        assert (await attempt(guesser, "cmp_wrong")).status_code == 429
    async with client_from(app, "2001:db8:1:3::1") as elsewhere:
        assert (await attempt(elsewhere, "cmp_wrong")).status_code == 401


async def test_forwarded_for_counts_only_from_a_trusted_proxy(world: World) -> None:
    untrusted = create_app(limited(world))
    async with client_from(untrusted, "198.51.100.20") as direct:
        for number in range(LIMIT):
            spoofed = {"X-Forwarded-For": f"203.0.113.{number}"}
            assert (await attempt(direct, "cmp_wrong", spoofed)).status_code == 401
        spoofed = {"X-Forwarded-For": "203.0.113.99"}
        assert (await attempt(direct, "cmp_wrong", spoofed)).status_code == 429

    behind_proxy = create_app(limited(world, trusted_proxies="10.0.0.1, 10.1.0.0/16"))
    async with client_from(behind_proxy, "10.0.0.1") as proxy:
        guesser = {"X-Forwarded-For": "192.0.2.1, 203.0.113.5, 10.1.2.3"}
        for _ in range(LIMIT):
            assert (await attempt(proxy, "cmp_wrong", guesser)).status_code == 401
        # a different left-most entry (written by the client) does not escape the count
        guesser = {"X-Forwarded-For": "192.0.2.77, 203.0.113.5"}
        assert (await attempt(proxy, "cmp_wrong", guesser)).status_code == 429
        colleague = {"X-Forwarded-For": "203.0.113.6", "X-Forwarded-Proto": "https"}
        answer = await attempt(proxy, world.acme_admin, colleague)
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


async def test_failures_are_shared_through_redis_under_the_prefix(
    world: World, redis_url: str
) -> None:
    prefix = f"campaignd-test-{uuid.uuid4().hex[:8]}"
    services = limited(world, redis_url=redis_url, redis_prefix=prefix)
    first, second = admin_app(services), admin_app(services)
    redis = Redis.from_url(redis_url)
    try:
        async with client_from(first, "198.51.100.30") as guesser:
            for _ in range(LIMIT):
                assert (await attempt(guesser, "cmp_wrong")).status_code == 401
        keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}:*")]
        assert keys == [f"{prefix}:login-failures:198.51.100.30"]
        assert 0 < await redis.pttl(keys[0]) <= 60_000
        async with client_from(second, "198.51.100.30") as same_guesser:
            assert (await attempt(same_guesser, "cmp_wrong")).status_code == 429
        async with client_from(second, "198.51.100.31") as colleague:
            assert (await attempt(colleague, world.acme_admin)).status_code == 303
    finally:
        for application in (first, second):
            throttle = getattr(application.state, "login_throttle", None)
            if throttle is not None:
                await throttle.close()
        async for key in redis.scan_iter(match=f"{prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


def test_the_settings_refuse_a_proxy_that_is_not_an_address() -> None:
    from campaignd.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="CAMPAIGND_TRUSTED_PROXIES"):
        load_settings(_env_file=None, trusted_proxies="proxy.internal")
    assert load_settings(_env_file=None, trusted_proxies="::1, 10.0.0.0/8").trusted_proxies
