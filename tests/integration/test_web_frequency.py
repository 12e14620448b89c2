"""The frequency rules page over HTTP: each organization sees and changes its own rules, a
platform admin picks the organization, a viewer reads, a bad rule is refused in words."""

from __future__ import annotations

import re

import httpx

from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/frequency-rules"


def shown_rules(html: str) -> str:
    match = re.search(
        r'data-rules="organization">.*?<p class="mono" data-rules-text>([^<]*)<', html, re.S
    )
    assert match, "no organization rules on the page"
    return match.group(1)


async def test_an_admin_changes_the_rules_of_their_organization_only(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(PAGE)
    assert page.status_code == 200
    default = shown_rules(page.text)
    assert default.startswith("1/")

    saved = await client.post(f"{PAGE}/set", data={"csrf_token": csrf, "rules": "1/1d, 3/7d"})
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert shown_rules(page.text) == "3/7d 1/1d"
    assert any("rules are now 3/7d 1/1d" in text for text in flashes_of(page.text))

    refused = await client.post(f"{PAGE}/set", data={"csrf_token": csrf, "rules": "often"})
    assert refused.status_code == 422
    assert "often" in refused.text
    assert shown_rules(refused.text) == "3/7d 1/1d"

    await client.post("/admin/logout", data={"csrf_token": csrf})
    await sign_in(client, world.globex_admin)
    page = await client.get(PAGE)
    assert shown_rules(page.text) == default
    other = await client.get(f"{PAGE}?organization=acme")
    assert "3/7d 1/1d" not in other.text
    assert "you belong to &#39;globex&#39;, not &#39;acme&#39;" in other.text


async def test_a_platform_admin_picks_the_organization_and_a_viewer_only_reads(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.platform_admin)
    saved = await client.post(
        f"{PAGE}/set", data={"csrf_token": csrf, "rules": "2/30d", "organization": "globex"}
    )
    assert saved.headers["location"] == f"{PAGE}?organization=globex"
    globex = await client.get(saved.headers["location"])
    assert shown_rules(globex.text) == "2/30d"
    acme = await client.get(f"{PAGE}?organization=acme")
    assert shown_rules(acme.text) != "2/30d"
    unknown = await client.get(f"{PAGE}?organization=nobody")
    assert unknown.status_code == 200
    assert 'class="flash flash--error" role="alert"' in unknown.text
    assert "data-rules-text" not in unknown.text

    await client.post("/admin/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(PAGE)
    assert 'data-action="set-rules"' not in page.text
    refused = await client.post(f"{PAGE}/set", data={"csrf_token": csrf, "rules": "9/1d"})
    page = await client.get(refused.headers["location"])
    assert any("read-only access" in text for text in flashes_of(page.text))
    assert shown_rules(page.text) != "9/1d"
