"""The segment builder's engagement row in a real Chromium, on a phone and a desktop: pick
an activity, one of the organization's campaigns and a number of days, add it to the
filter, see the live count follow, save."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from campaignd.actions import contacts as contact_actions
from campaignd.actions.contacts import contact_batch, contact_limits
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.store.columns import utcnow
from campaignd.store.schema import deliveries
from campaignd.store.tracking import record_event
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import sign_in
from tests.browser.test_audience_browser import fits, live_count

pytestmark = pytest.mark.browser

SYSTEM = Principal(actor="test", role=Role.PLATFORM_ADMIN)
PEOPLE = ["ada@acme.example", "bea@acme.example", "cyd@acme.example"]
HTML = '<html><body><p><a href="https://shop.example/spring">Shop the sale</a></p></body></html>'


def seed(seeder: Seeder) -> str:
    """acme: three contacts; "Spring sale" sent to ada and bea, and ada clicked its link.
    globex: "Globex launch", which acme's picker must not offer."""
    acme = seeder.organization("acme", "Acme")
    seeder.organization("globex", "Globex")

    async def contacts(services: Services) -> None:
        batch = contact_batch([(email, {}, None) for email in PEOPLE], contact_limits(services))
        await contact_actions.upsert_contacts(services, SYSTEM, batch, organization="acme")

    seeder.run(contacts)
    spring = seeder.campaign("acme", "Spring sale", PEOPLE[:2], html_body=HTML)
    seeder.execute(spring)
    seeder.campaign("globex", "Globex launch", ["zed@globex.example"], html_body=HTML)
    seeder.drive_pipeline()

    async def click(services: Services) -> None:
        async with services.database.transaction() as connection:
            delivery_id = await connection.scalar(
                select(deliveries.c.id).where(
                    deliveries.c.campaign_id == spring,
                    deliveries.c.email == PEOPLE[0],
                    deliveries.c.status == "sent",
                )
            )
            assert delivery_id is not None
            await record_event(
                connection,
                campaign_id=spring,
                delivery_id=int(delivery_id),
                kind="click",
                link_index=0,
                machine=None,
                at=utcnow(),
            )

    seeder.run(click)
    return seeder.token("organization_admin", acme, "dana")


@pytest.mark.parametrize("width", [390, 1280])
def test_an_engagement_condition_is_added_counted_and_saved(
    browser: Browser, server: LiveServer, seeder: Seeder, width: int
) -> None:
    token = seed(seeder)
    context = browser.new_context(
        viewport={"width": width, "height": 844 if width < 500 else 900},
        is_mobile=width < 500,
        has_touch=width < 500,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, server, token)
    page.goto(f"{server.url}/admin/marketing/segments/new")
    expect(live_count(page)).to_have_text("3")
    expect(page.locator("#engagement-campaign option")).to_have_text(
        ["any campaign", "Spring sale"]
    )
    fits(page, width)

    page.fill("#segment-name", "Clicked the sale")
    page.select_option("#engagement-activity", "clicked")
    page.select_option("#engagement-campaign", "Spring sale")
    page.fill("#engagement-days", "30")
    page.click("[data-action=add-engagement]")
    expect(live_count(page)).to_have_text("1")
    expect(page.locator("#live-count [data-sample] li")).to_have_text(["ada@acme.example"])
    assert json.loads(page.input_value("#segment-filter")) == {
        "all": [{"engagement": "clicked", "campaign": "Spring sale", "within": "30d"}]
    }

    # and who received it but did not click: "did not", any number of days
    page.select_option("#engagement-negated", "not")
    page.select_option("#engagement-activity", "clicked")
    page.fill("#engagement-days", "")
    page.click("[data-action=add-engagement]")
    expect(live_count(page)).to_have_text("0")
    assert json.loads(page.input_value("#segment-filter"))["all"][1] == {
        "not": {"engagement": "clicked", "campaign": "Spring sale"}
    }
    page.fill(
        "#segment-filter",
        json.dumps(
            {
                "all": [
                    {"engagement": "sent", "campaign": "Spring sale"},
                    {"not": {"engagement": "clicked", "campaign": "Spring sale"}},
                ]
            }
        ),
    )
    expect(live_count(page)).to_have_text("1")
    expect(page.locator("#live-count [data-sample] li")).to_have_text(["bea@acme.example"])
    fits(page, width)
    page.click("[data-action=save-segment]")
    expect(page.locator(".flash--success")).to_contain_text(
        "The segment “Clicked the sale” is saved"
    )
    page.goto(f"{server.url}/admin/marketing/segments")
    expect(page.get_by_text('received "Spring sale" and not clicked "Spring sale"')).to_be_visible()
    context.close()
