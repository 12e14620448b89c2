"""The DKIM keys page: add (generated or pasted), the record to publish and whether DNS
serves it (a stub DNS server on 127.0.0.1), remove; roles, scope, CSRF; the campaign page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from campaignd.actions import dkim as actions
from campaignd.settings import Settings
from campaignd.store.schema import audit_log, dkim_keys
from tests.integration.dns_server import DnsServer
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/dkim"
NAME = "cmp1._domainkey.acme.example"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, dns_server: DnsServer) -> Settings:
    """The test settings, with DNS asked of the stub and a From domain of acme's."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        dns_nameservers=dns_server.address,
        dns_timeout=2.0,
        from_address="Acme News <news@acme.example>",
    )


def cards(html: str) -> dict[str, str]:
    """Each key's card by record name."""
    found = re.findall(
        r'<section class="card dkim-key" data-key="([^"]+)">(.*?)</section>', html, re.S
    )
    return dict(found)


def value_of(card: str) -> str:
    match = re.search(r"data-record-value>([^<]+)<", card)
    assert match
    return match.group(1)


def status_of(card: str) -> str:
    match = re.search(r"data-dns-status>([^<]+)<", card)
    assert match
    return match.group(1)


async def count(world: World, table: object) -> int:
    from sqlalchemy import func, select

    async with world.services.database.connection() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_add_publish_and_remove(
    client: httpx.AsyncClient, world: World, dns_server: DnsServer
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert "No DKIM keys yet" in page.text
    assert 'href="/admin/marketing/dkim" aria-current="page"' in page.text

    added = await client.post(
        f"{PAGE}/add",
        data={"csrf_token": csrf, "domain": "Acme.Example", "selector": "cmp1", "algorithm": "rsa"},
    )
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert any(f"Publish its TXT record at {NAME}" in text for text in flashes_of(page.text))
    card = cards(page.text)[NAME]
    assert value_of(card).startswith("v=DKIM1; k=rsa; p=MII")
    assert status_of(card) == "not published"
    assert "DNS has no record at this name yet" in card
    assert re.search(r"PRIVATE KEY-----\s+[A-Za-z0-9+/]", page.text) is None  # never shown

    dns_server.publish(NAME, value_of(card))
    card = cards((await client.get(PAGE)).text)[NAME]
    assert status_of(card) == "published"
    assert "DNS serves this record" in card
    dns_server.publish(NAME, "v=DKIM1; k=rsa; p=c29tZXRoaW5nIGVsc2U=")
    card = cards((await client.get(PAGE)).text)[NAME]
    assert status_of(card) == "differs"
    assert "p=c29tZXRoaW5nIGVsc2U=" in card

    campaign_id = await world.campaign()
    campaign_page = await client.get(f"/admin/marketing/campaigns/{campaign_id}")
    assert "Signed with DKIM as acme.example: cmp1 (rsa)" in campaign_page.text

    removed = await client.post(
        f"{PAGE}/remove", data={"csrf_token": csrf, "domain": "acme.example", "selector": "cmp1"}
    )
    assert removed.status_code == 303
    page = await client.get(removed.headers["location"])
    assert any(f"The key {NAME} is removed" in text for text in flashes_of(page.text))
    assert cards(page.text) == {}
    campaign_page = await client.get(f"/admin/marketing/campaigns/{campaign_id}")
    assert "Sent unsigned: no DKIM key for acme.example" in campaign_page.text
    assert "sent unsigned: no DKIM key for acme.example" in campaign_page.text  # the preview


async def test_refusals_show_the_problem_and_change_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    audit_before = await count(world, audit_log)
    bad = await client.post(
        f"{PAGE}/add",
        data={"csrf_token": csrf, "domain": "not a domain", "selector": "cmp1", "algorithm": "rsa"},
    )
    assert bad.status_code == 422
    assert "Domain: &#39;not a domain&#39; is not a domain name." in bad.text
    assert 'value="not a domain"' in bad.text
    pasted = await client.post(
        f"{PAGE}/add",
        data={
            "csrf_token": csrf,
            "domain": "acme.example",
            "selector": "cmp1",
            "algorithm": "ed25519",
            "private_key": "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----",
        },
    )
    assert pasted.status_code == 422
    assert "not a PEM private key" in pasted.text
    forged = await client.post(
        f"{PAGE}/add", data={"domain": "acme.example", "selector": "cmp1", "algorithm": "rsa"}
    )
    assert forged.status_code == 403
    assert await count(world, dkim_keys) == 0
    assert await count(world, audit_log) == audit_before


async def test_viewers_read_and_other_organizations_see_nothing(
    client: httpx.AsyncClient, world: World, dns_server: DnsServer
) -> None:
    await actions.add_key(
        world.services,
        world.system,
        domain="acme.example",
        selector="cmp1",
        algorithm="ed25519",
        organization="acme",
    )
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(PAGE)
    assert list(cards(page.text)) == [NAME]
    assert 'action="/admin/marketing/dkim/add"' not in page.text
    assert 'data-action="remove"' not in page.text
    refused = await client.post(
        f"{PAGE}/remove", data={"csrf_token": csrf, "domain": "acme.example", "selector": "cmp1"}
    )
    assert refused.status_code == 303
    assert await count(world, dkim_keys) == 1

    await client.post("/admin/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, world.globex_admin)
    page = await client.get(PAGE)
    assert cards(page.text) == {} and "acme.example" not in page.text
    taken = await client.post(
        f"{PAGE}/remove", data={"csrf_token": csrf, "domain": "acme.example", "selector": "cmp1"}
    )
    page = await client.get(taken.headers["location"])
    assert f"No DKIM key {NAME} in globex." in flashes_of(page.text)
    assert await count(world, dkim_keys) == 1
