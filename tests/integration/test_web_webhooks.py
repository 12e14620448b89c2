"""The webhooks pages: add (the secret shown once, never stored in the clear), disable,
enable, remove; an endpoint's events and attempts, replay; roles, scope and CSRF."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from campaignd.actions import webhooks as actions
from campaignd.settings import Settings
from campaignd.store.schema import admin_sessions, webhook_endpoints
from campaignd.web.routes.campaigns import READ_ONLY
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/webhooks"
URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        webhook_allow_loopback=True,
    )


async def count(world: World, table: object) -> int:
    async with world.services.database.connection() as connection:
        statement = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int((await connection.execute(statement)).scalar_one())


async def test_add_disable_enable_remove(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(PAGE)
    assert "No webhook endpoints yet" in page.text
    assert f'href="{PAGE}" aria-current="page"' in page.text

    refused = await client.post(
        f"{PAGE}/add",
        data={"csrf_token": csrf, "url": "https://10.1.1.1/x", "event_types": "sent"},
    )
    assert refused.status_code == 422
    assert "private network address" in refused.text
    assert await count(world, webhook_endpoints) == 0

    added = await client.post(
        f"{PAGE}/add",
        data={"csrf_token": csrf, "url": URL, "event_types": ["sent", "unsubscribed"]},
    )
    assert added.status_code == 200
    assert added.headers["cache-control"] == "no-store"
    secret = re.search(r"data-secret>(whsec_[^<]+)<", added.text)
    assert secret is not None
    async with world.services.database.connection() as connection:
        sessions = (await connection.execute(select(admin_sessions))).all()
    assert secret.group(1) not in repr(sessions)
    page = await client.get(PAGE)
    assert "whsec_" not in page.text
    endpoint_id = re.search(r'data-endpoint="(\d+)"', page.text)
    assert endpoint_id is not None
    form = {"csrf_token": csrf, "endpoint": endpoint_id.group(1)}

    disabled = await client.post(f"{PAGE}/disable", data=form, follow_redirects=True)
    assert "is disabled" in " ".join(flashes_of(disabled.text))
    assert "disabled by an administrator" in disabled.text
    enabled = await client.post(f"{PAGE}/enable", data=form, follow_redirects=True)
    assert "is enabled" in " ".join(flashes_of(enabled.text))

    detail = await client.get(f"{PAGE}/{endpoint_id.group(1)}")
    assert detail.status_code == 200 and "No events yet" in detail.text

    forged = await client.post(f"{PAGE}/remove", data=form | {"csrf_token": "forged"})
    assert forged.status_code == 403
    removed = await client.post(f"{PAGE}/remove", data=form, follow_redirects=True)
    assert "is removed" in " ".join(flashes_of(removed.text))
    assert await count(world, webhook_endpoints) == 0


async def test_viewers_read_and_other_organizations_see_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await actions.add_endpoint(
        world.services, world.system, url=URL, event_types=["sent"], organization="acme"
    )
    endpoint_id = created.view.endpoint.id
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(PAGE)
    assert URL in page.text and "Add an endpoint" not in page.text
    answer = await client.post(
        f"{PAGE}/disable",
        data={"csrf_token": csrf, "endpoint": str(endpoint_id)},
        follow_redirects=True,
    )
    assert READ_ONLY in flashes_of(answer.text)
    assert "disabled by an administrator" not in answer.text

    client.cookies.clear()
    csrf = await sign_in(client, world.globex_admin)
    page = await client.get(PAGE)
    assert URL not in page.text
    assert (await client.get(f"{PAGE}/{endpoint_id}")).status_code == 404
    answer = await client.post(
        f"{PAGE}/remove",
        data={"csrf_token": csrf, "endpoint": str(endpoint_id)},
        follow_redirects=True,
    )
    assert f"No webhook endpoint {endpoint_id}." in flashes_of(answer.text)
    replay = await client.post(
        f"{PAGE}/{endpoint_id}/replay",
        data={"csrf_token": csrf, "message": "msg_x"},
        follow_redirects=True,
    )
    assert f"No webhook endpoint {endpoint_id}." in flashes_of(replay.text)
    assert await count(world, webhook_endpoints) == 1
