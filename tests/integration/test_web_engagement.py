"""The segment builder's engagement row: the campaign picker offers the organization's own
campaigns (never another's), an engagement filter is counted live and saved, and one that
names a campaign the organization does not have is refused beside the filter."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from campaignd.actions import campaigns as campaign_actions
from campaignd.actions import contacts as contact_actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.actions.contacts import contact_batch, contact_limits
from campaignd.domain.lifecycle import Trigger
from campaignd.domain.recipients import from_json
from campaignd.store.columns import utcnow
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.runs import start_campaign
from campaignd.store.schema import deliveries
from campaignd.store.tracking import record_event
from tests.integration.delivery_support import worker
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

SEGMENTS = "/admin/marketing/segments"
HTML = '<html><body><a href="https://shop.example/spring">Shop</a></body></html>'


async def sent_campaign(world: World, organization: str, name: str, emails: list[str]) -> int:
    """A campaign created, started, fanned out and sent (to the settings' outbox)."""
    view, _ = await campaign_actions.create_campaign(
        world.services,
        world.system,
        CampaignContent(name=name, subject="Hello", html_body=HTML),
        organization=organization,
        recipient_list=from_json(emails),
    )
    campaign_id = int(view["id"])
    async with world.services.database.transaction() as connection:
        run = await start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="test", now=utcnow()
        )
        assert run is not None
        await fan_out(
            connection, campaign_id, rules=CooldownRules(days=0, scope="global"), now=utcnow()
        )
    await worker(world.services.database, world.services.settings).run_burst()
    return campaign_id


async def click(world: World, campaign_id: int, email: str) -> None:
    """A person's click on the campaign's first link, as the tracking endpoint records it."""
    async with world.services.database.transaction() as connection:
        delivery_id = await connection.scalar(
            select(deliveries.c.id).where(
                deliveries.c.campaign_id == campaign_id,
                deliveries.c.email == email,
                deliveries.c.status == "sent",
            )
        )
        assert delivery_id is not None
        assert await record_event(
            connection,
            campaign_id=campaign_id,
            delivery_id=int(delivery_id),
            kind="click",
            link_index=0,
            machine=None,
            at=utcnow(),
        )


def count_of(html: str) -> int:
    match = re.search(r"<strong data-count>([0-9,]+)</strong>", html)
    assert match, html
    return int(match.group(1).replace(",", ""))


async def test_the_builder_adds_counts_and_saves_engagement_conditions(
    client: httpx.AsyncClient, world: World
) -> None:
    people = [("ada@acme.example", {}, None), ("bea@acme.example", {}, None)]
    limits = contact_limits(world.services)
    await contact_actions.upsert_contacts(
        world.services, world.system, contact_batch(people, limits), organization="acme"
    )
    spring = await sent_campaign(
        world, "acme", "Spring sale", ["ada@acme.example", "bea@acme.example"]
    )
    await click(world, spring, "ada@acme.example")
    theirs = await sent_campaign(world, "globex", "Globex launch", ["bea@acme.example"])
    await click(world, theirs, "bea@acme.example")

    csrf = await sign_in(client, world.acme_admin)
    builder = await client.get(f"{SEGMENTS}/new")
    assert builder.status_code == 200
    assert 'data-action="add-engagement"' in builder.text
    picker = re.search(r'<select id="engagement-campaign".*?</select>', builder.text, re.S)
    assert picker is not None
    assert re.findall(r'<option value="([^"]*)">', picker.group(0)) == ["", "Spring sale"]

    async def live(text: str) -> str:
        answer = await client.post(f"{SEGMENTS}/count", data={"csrf_token": csrf, "filter": text})
        assert answer.status_code == 200
        return answer.text

    clicked = await live('{"engagement": "clicked", "campaign": "Spring sale", "within": "30d"}')
    assert count_of(clicked) == 1 and "ada@acme.example" in clicked
    assert "bea@acme.example" not in clicked  # her click was on globex's campaign
    assert count_of(await live('{"engagement": "sent", "campaign": "Spring sale"}')) == 2
    assert count_of(await live('{"not": {"engagement": "clicked"}}')) == 1
    refused = await live('{"engagement": "clicked", "campaign": "Globex launch"}')
    assert 'data-field-error="filter"' in refused
    assert "filter.campaign: acme has no campaign named &#39;Globex launch&#39;" in refused

    saved = await client.post(
        f"{SEGMENTS}/new",
        data={
            "csrf_token": csrf,
            "name": "Clickers",
            "filter": '{"engagement": "clicked", "campaign": "Spring sale", "within": "30d"}',
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{SEGMENTS}/Clickers"
    shown = await client.get(saved.headers["location"])
    assert "The segment “Clickers” is saved." in flashes_of(shown.text)
    listing = await client.get(SEGMENTS)
    assert "clicked &#34;Spring sale&#34; in the last 30 days" in listing.text
