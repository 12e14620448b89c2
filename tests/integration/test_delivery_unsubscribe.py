"""Unsubscribe pages over HTTP: GET asks and changes nothing, POST suppresses, forgeries 404."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from campaignd.api.unsubscribe import router
from campaignd.delivery.unsubscribe import make_token
from campaignd.store.database import Database
from campaignd.store.secrets import instance_secret
from campaignd.store.suppressions import list_suppressions
from tests.integration.delivery_support import organization

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.database = database
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def suppressed(database: Database, organization_id: int) -> list[tuple[str, str]]:
    async with database.connection() as connection:
        rows = await list_suppressions(connection, organization_id=organization_id)
    return [(row["email"], row["reason"]) for row in rows]


async def token_for(database: Database, organization_id: int, email: str) -> str:
    return make_token(await instance_secret(database, "unsubscribe"), organization_id, email)


async def test_get_shows_a_page_with_a_form_and_changes_nothing(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    token = await token_for(database, organization_id, "ada@example.org")
    for _ in range(2):
        response = await client.get(f"/u/{token}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "ada@example.org" in response.text
        assert f'<form method="post" action="/u/{token}">' in response.text
        assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert await suppressed(database, organization_id) == []


async def test_one_click_post_suppresses_once_and_is_harmless_when_repeated(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    other_organization = await organization(database, "other")
    token = await token_for(database, organization_id, "ada@example.org")
    for _ in range(2):
        response = await client.post(f"/u/{token}", data=ONE_CLICK)
        assert response.status_code == 200
        assert "unsubscribed" in response.text
        assert "location" not in response.headers
    assert await suppressed(database, organization_id) == [("ada@example.org", "unsubscribed")]
    assert await suppressed(database, other_organization) == []
    page = await client.get(f"/u/{token}")
    assert page.status_code == 200 and "You are unsubscribed" in page.text


async def test_the_page_form_post_also_works(database: Database, client: httpx.AsyncClient) -> None:
    organization_id = await organization(database)
    token = await token_for(database, organization_id, "bob@example.org")
    response = await client.post(
        f"/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert await suppressed(database, organization_id) == [("bob@example.org", "unsubscribed")]


async def test_an_address_already_bounced_keeps_its_reason(
    database: Database, client: httpx.AsyncClient
) -> None:
    from campaignd.store.columns import utcnow
    from campaignd.store.suppressions import add_suppressions

    organization_id = await organization(database)
    async with database.transaction() as connection:
        await add_suppressions(
            connection,
            organization_id=organization_id,
            emails=["ada@example.org"],
            reason="bounced",
            now=utcnow(),
        )
    token = await token_for(database, organization_id, "ada@example.org")
    assert (await client.post(f"/u/{token}", data=ONE_CLICK)).status_code == 200
    assert await suppressed(database, organization_id) == [("ada@example.org", "bounced")]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_forged_tokens_get_a_404_page_and_change_nothing(
    database: Database, client: httpx.AsyncClient, method: str
) -> None:
    organization_id = await organization(database)
    genuine = await token_for(database, organization_id, "ada@example.org")
    forged_with_other_secret = make_token("not-the-instance-secret", organization_id, "x@y.org")
    tampered = (
        make_token("not-the-instance-secret", organization_id, "x@y.org").split(".")[0]
        + "."
        + genuine.split(".")[1]
    )
    unknown_organization = await token_for(database, organization_id + 100, "ada@example.org")
    for token in ("nonsense", forged_with_other_secret, tampered, unknown_organization):
        response = await client.request(method, f"/u/{token}", data=ONE_CLICK)
        assert response.status_code == 404
        assert "not valid" in response.text
    assert await suppressed(database, organization_id) == []
