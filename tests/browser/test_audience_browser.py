"""The audience pages in a real Chromium, on a phone and a desktop: make a list and a
segment (its live count follows the typing), pick them on a campaign, see them on its page;
another organization's audience never shows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from campaignd.actions import contacts as contact_actions
from campaignd.actions import lists as list_actions
from campaignd.actions.contacts import contact_batch, contact_limits
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import sign_in

pytestmark = pytest.mark.browser

SYSTEM = Principal(actor="test", role=Role.PLATFORM_ADMIN)
PEOPLE = [
    ("ada@acme.example", {"plan": "pro", "country": "DE"}, None),
    ("bea@acme.example", {"plan": "pro", "country": "AT"}, None),
    ("cyd@acme.example", {"plan": "free", "country": "DE"}, None),
]


def seed(seeder: Seeder) -> str:
    """acme with three contacts and its admin's token; globex with a list, a contact."""
    acme = seeder.organization("acme", "Acme")
    seeder.organization("globex", "Globex")

    async def work(services: Services) -> None:
        limits = contact_limits(services)
        await contact_actions.upsert_contacts(
            services, SYSTEM, contact_batch(PEOPLE, limits), organization="acme"
        )
        secret = [("zed@globex.example", {"plan": "pro"}, None)]
        await contact_actions.upsert_contacts(
            services, SYSTEM, contact_batch(secret, limits), organization="globex"
        )
        await list_actions.create_list(
            services, SYSTEM, name="Globex insiders", organization="globex"
        )

    seeder.run(work)
    return seeder.token("organization_admin", acme, "dana")


def fits(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: {scroll_width} px wide at {width} px"


def live_count(page: Page) -> object:
    return page.locator("#live-count [data-count]")


@pytest.mark.parametrize("width", [390, 1280])
def test_list_and_segment_made_in_the_ui_are_picked_on_a_campaign(
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

    page.click("nav >> text=Audience")
    expect(page.locator("h1")).to_have_text("Contacts")
    expect(page.locator("tr[data-email]")).to_have_count(3)
    expect(page.get_by_text("zed@globex.example")).to_have_count(0)
    fits(page, width)

    # a list
    page.click(".audience-tabs >> text=Lists")
    expect(page.get_by_text("Globex insiders")).to_have_count(0)
    page.fill("#list-name", "Weekly news")
    page.select_option("#list-visibility", "public")
    page.select_option("#list-opt-in", "single")
    page.click("button[data-action=create-list]")
    expect(page.locator(".flash--success")).to_contain_text("The list “Weekly news” is created")
    expect(page.locator("h1")).to_have_text("Weekly news")
    expect(page.locator("[data-snippet]")).to_contain_text("/subscribe/acme")
    fits(page, width)

    # a segment, its count live as the filter is typed
    page.click(".audience-tabs >> text=Segments")
    page.click("[data-action=new-segment]")
    expect(live_count(page)).to_have_text("3")  # {"all": []}: every subscribed contact
    page.fill("#segment-name", "German pros")
    page.fill("#segment-filter", '{"attribute": "plan", "op": "eq", "value": "pro"}')
    expect(live_count(page)).to_have_text("2")
    expect(page.locator("#live-count [data-sample] li")).to_have_count(2)
    page.fill("#segment-filter", '{"attribute": "plan", "op": "eq", "value": "pro"')
    expect(page.locator("#live-count [data-field-error=filter]")).to_contain_text(
        "filter: not JSON"
    )
    page.fill("#segment-filter", '{"all": [{"attribute": "plan", "op": "eq", "value": "pro"}]}')
    expect(live_count(page)).to_have_text("2")
    # the helper row adds a condition to the filter's "all"
    page.fill("#condition-subject", "country")
    page.select_option("#condition-op", "eq")
    page.fill("#condition-value", "DE")
    page.click("[data-action=add-condition]")
    expect(live_count(page)).to_have_text("1")
    expect(page.locator("#live-count [data-sample] li")).to_have_text(["ada@acme.example"])
    fits(page, width)
    page.click("[data-action=save-segment]")
    expect(page.locator(".flash--success")).to_contain_text("The segment “German pros” is saved")
    expect(live_count(page)).to_have_text("1")

    # pick them on a new campaign
    page.goto(f"{server.url}/admin/marketing/campaigns/new")
    expect(page.locator("[data-pick-list]")).to_have_count(1)
    expect(page.get_by_text("Globex insiders")).to_have_count(0)
    page.fill("#name", "Audience launch")
    page.fill("#subject", "Hello")
    page.fill("#text_body", "Hi {{ email }}")
    page.check("[data-pick-list='Weekly news']")
    page.check("[data-pick-segment='German pros']")
    fits(page, width)
    page.click("button:has-text('Create campaign')")
    expect(page).to_have_url(re.compile(r"/admin/marketing/campaigns/[0-9]+$"))
    expect(page.locator("[data-target-list='Weekly news']")).to_be_visible()
    expect(page.locator("[data-target-segment='German pros']")).to_be_visible()
    # before it starts, the page counts who its list and segment hold now (ada, a pro)
    expect(page.locator("[data-eligible]")).to_have_text("1")
    expect(page.locator("[data-audience-pending]")).to_contain_text(
        "Sent to list Weekly news; segment German pros"
    )
    fits(page, width)
    page.goto(f"{server.url}/admin/marketing/campaigns")
    expect(page.locator("[data-audience-targets]")).to_have_text(
        "list Weekly news; segment German pros"
    )
    fits(page, width)
    page.go_back()
    page.click("[data-target-segment='German pros']")
    expect(page.locator("h1")).to_have_text("German pros")
    context.close()
