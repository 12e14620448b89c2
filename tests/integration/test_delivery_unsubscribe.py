"""Unsubscribe pages over HTTP: GET asks and changes nothing, POST suppresses, forgeries 404."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from campaignd.api.unsubscribe import router
from campaignd.delivery.unsubscribe import make_token
from campaignd.store import audit
from campaignd.store.database import Database
from campaignd.store.organizations import create_organization
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


async def unsubscribe_audit(database: Database) -> list[tuple[str, int | None, object]]:
    async with database.connection() as connection:
        rows = await audit.recent(connection)
    return [
        (row["actor"], row["organization_id"], row["detail"])
        for row in reversed(rows)
        if row["action"] == "suppression.unsubscribe"
    ]


async def test_every_unsubscribe_is_audited_with_how_it_came(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    one_click = await token_for(database, organization_id, "ada@example.org")
    by_page = await token_for(database, organization_id, "bob@example.org")
    for _ in range(2):
        assert (await client.post(f"/u/{one_click}", data=ONE_CLICK)).status_code == 200
    page = await client.get(f"/u/{by_page}")
    assert 'name="via" value="page"' in page.text
    assert (
        await client.post(f"/u/{by_page}", data={**ONE_CLICK, "via": "page"})
    ).status_code == 200
    assert await unsubscribe_audit(database) == [
        (
            "unsubscribe-link",
            organization_id,
            {"emails": ["ada@example.org"], "count": 1, "via": "one-click"},
        ),
        (
            "unsubscribe-link",
            organization_id,
            {"emails": ["bob@example.org"], "count": 1, "via": "page"},
        ),
    ]


async def test_a_broken_body_is_still_a_one_click_request(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    token = await token_for(database, organization_id, "ada@example.org")
    response = await client.post(
        f"/u/{token}",
        content=b"--nothing",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 200
    assert [detail for *_, detail in await unsubscribe_audit(database)] == [
        {"emails": ["ada@example.org"], "count": 1, "via": "one-click"}
    ]


async def test_pages_send_a_strict_policy_and_no_referrer(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    token = await token_for(database, organization_id, "ada@example.org")
    for method, path in [
        ("GET", f"/u/{token}"),
        ("POST", f"/u/{token}"),
        ("GET", "/u/nonsense"),
        ("GET", "/u/preview"),
        ("POST", "/u/preview"),
    ]:
        response = await client.request(method, path, data=ONE_CLICK)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy, path
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    style = re.search(r"<style>(.*?)</style>", response.text, re.S)
    assert style
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy


async def test_the_preview_link_unsubscribes_nobody(
    database: Database, client: httpx.AsyncClient
) -> None:
    organization_id = await organization(database)
    page = await client.get("/u/preview")
    assert page.status_code == 200 and "unsubscribes no one" in page.text
    answer = await client.post("/u/preview", data=ONE_CLICK)
    assert answer.status_code == 200 and "nobody was unsubscribed" in answer.text
    assert await suppressed(database, organization_id) == []
    assert await unsubscribe_audit(database) == []


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


async def test_a_name_ending_in_a_full_stop_gets_no_second_one(
    database: Database, client: httpx.AsyncClient
) -> None:
    async with database.transaction() as connection:
        row = await create_organization(connection, slug="acme-inc", name="Acme Inc.")
    token = await token_for(database, int(row["id"]), "ada@example.org")
    asked = (await client.get(f"/u/{token}")).text
    done = (await client.post(f"/u/{token}", data=ONE_CLICK)).text
    for page in (asked, done):
        assert "emails from Acme Inc.</p>" in page and "Inc.." not in page
    plain = await organization(database, "plain")
    asked = (await client.get(f"/u/{await token_for(database, plain, 'ada@example.org')}")).text
    assert "emails from Plain.</p>" in asked
