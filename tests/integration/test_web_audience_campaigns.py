"""A campaign sent to lists (with or without recipients of its own), on the admin pages
before it starts: the list, the campaign page and the scheduled page say who it goes to."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import httpx

from campaignd.actions import campaigns as actions
from campaignd.actions.campaign_targets import TargetNames
from campaignd.actions.campaigns import CampaignContent
from campaignd.domain.recipients import from_json
from campaignd.store.columns import utcnow
from tests.integration.targeting_support import add_contacts, add_list
from tests.integration.test_web_pages import LIST, World, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

SUBJECT = "Hello {{ first_name }}"


async def newsletter(world: World) -> None:
    """Acme's list "Newsletter": ada (first_name Ada) and zed (no first_name), confirmed,
    and cy, unconfirmed."""
    acme = await world.organization_id()
    await add_contacts(
        world.services.database,
        acme,
        [
            ("zed@example.org", {"city": "Oslo"}),
            ("ada@example.org", {"first_name": "Ada"}),
            ("cy@example.org", {"first_name": "Cy"}),
        ],
    )
    await add_list(
        world.services.database,
        acme,
        "Newsletter",
        {
            "zed@example.org": "confirmed",
            "ada@example.org": "confirmed",
            "cy@example.org": "unconfirmed",
        },
    )


async def create(
    world: World,
    name: str,
    people: list[object],
    *,
    scheduled_for: datetime | None = None,
) -> int:
    view, _ = await actions.create_campaign(
        world.services,
        world.system,
        CampaignContent(name=name, subject=SUBJECT, text_body="Hi {{ first_name }}"),
        organization="acme",
        recipient_list=from_json(people) if people else None,
        scheduled_for=scheduled_for,
        targets=TargetNames(lists=["Newsletter"]),
    )
    return int(view["id"])


def row_of(page: str, campaign_id: int) -> str:
    """The campaign list's row of the campaign."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    return next(row for row in rows if f'href="{LIST}/{campaign_id}"' in row)


def as_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


async def test_the_campaign_list_shows_the_lists_and_the_subject_as_a_contact_gets_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await newsletter(world)
    only_list = await create(world, "List only", [])
    mixed = await create(
        world, "Mixed", [{"email": "press@example.org", "vars": {"first_name": "Press"}}]
    )
    await sign_in(client, world.acme_admin)

    page = (await client.get(LIST)).text

    row = row_of(page, only_list)
    sample = re.search(r"<span [^>]*data-subject-sample[^>]*>(.*?)</span>", row, re.S)
    assert sample is not None and sample.group(1) == "Hello Ada"  # the first contact by address
    assert 'title="The subject as ada@example.org gets it"' in row
    recipients = re.search(r'<td data-label="Recipients"[^>]*>(.*?)</td>', row, re.S)
    assert recipients is not None and as_text(recipients.group(1)) == "list Newsletter"
    row = row_of(page, mixed)
    assert re.search(r"data-subject-sample[^>]*>Hello Press<", row)
    recipients = re.search(r'<td data-label="Recipients"[^>]*>(.*?)</td>', row, re.S)
    assert recipients is not None and as_text(recipients.group(1)) == "1 + list Newsletter"


async def test_the_page_of_a_campaign_to_a_list_previews_its_contacts_before_it_starts(
    client: httpx.AsyncClient, world: World
) -> None:
    await newsletter(world)
    campaign_id = await create(world, "List only", [])
    await sign_in(client, world.acme_admin)

    page = (await client.get(f"{LIST}/{campaign_id}")).text

    eligibility = page.split('id="eligibility"')[1].split("</section>")[0]
    assert re.search(r"<strong data-eligible>2</strong> of 2 would get it", eligibility)
    warning = re.search(r'<li data-missing-variable="first_name">(.*?)</li>', eligibility, re.S)
    assert warning is not None
    assert as_text(warning.group(1)).startswith("1 recipient has no first_name")
    assert "zed@example.org" in warning.group(1)
    assert "Send “List only” to 2 recipients now?" in html.unescape(page)
    recipients = page.split('id="recipients"')[1].split("</section>")[0]
    assert "0 of its own + list Newsletter" in as_text(recipients)
    assert "Sent to list Newsletter" in as_text(recipients)
    assert "No recipients yet" not in recipients
    progress = page.split('id="progress"')[1].split("</section>")[0]
    assert "Its lists and segments are counted when it starts" in progress


async def test_the_scheduled_page_names_the_lists_beside_the_recipients(
    client: httpx.AsyncClient, world: World
) -> None:
    await newsletter(world)
    soon = utcnow() + timedelta(hours=1)
    campaign_id = await create(world, "Soon", [], scheduled_for=soon)
    await sign_in(client, world.acme_admin)

    page = (await client.get(f"{LIST}/scheduled")).text

    row = page.split(f'data-campaign-id="{campaign_id}"')[1].split("</tr>")[0]
    recipients = re.search(r'<td data-label="Recipients"[^>]*>(.*?)</td>', row, re.S)
    assert recipients is not None and as_text(recipients.group(1)) == "list Newsletter"
    assert "Send “Soon” to the contacts of list Newsletter now" in html.unescape(row)
