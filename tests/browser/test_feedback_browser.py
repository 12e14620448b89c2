"""A campaign's bounces and complaints on its page, in a real Chromium, on a phone and on
a desktop screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from campaignd.actions.feedback import apply_event
from campaignd.actions.services import Services
from campaignd.domain.feedback import FeedbackEvent, FeedbackKind, FeedbackSource
from campaignd.store.schema import deliveries
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in

pytestmark = pytest.mark.browser


def bounce_and_complain(seeder: Seeder, campaign_id: int) -> None:
    async def work(services: Services) -> None:
        async with services.database.connection() as connection:
            ids = list(
                await connection.scalars(
                    select(deliveries.c.id)
                    .where(deliveries.c.campaign_id == campaign_id)
                    .order_by(deliveries.c.id)
                )
            )
        for number, kind in enumerate([FeedbackKind.HARD_BOUNCE, FeedbackKind.COMPLAINT]):
            await apply_event(
                services,
                FeedbackEvent(
                    source=FeedbackSource.MAILBOX,
                    event_id=f"event-{number}",
                    kind=kind,
                    delivery_id=int(ids[number]),
                ),
            )

    seeder.run(work)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_campaign_page_shows_what_came_back(
    browser: Browser, server: LiveServer, seeder: Seeder, width: int
) -> None:
    token = admin(seeder)
    emails = [f"reader{number}@example.org" for number in range(4)]
    campaign_id = seeder.campaign("acme", "Winter news", emails)
    seeder.deliver_by_hand(campaign_id)
    bounce_and_complain(seeder, campaign_id)

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, server, token)
    page.goto(f"{server.url}/admin/marketing/campaigns/{campaign_id}")
    figures = page.locator("[data-feedback]")
    expect(figures).to_be_visible()
    expect(figures.locator("[data-figure=sent]")).to_have_text("4")
    expect(figures.locator("[data-figure=delivered]")).to_have_text("3")
    expect(figures.locator("[data-figure=hard-bounces]")).to_contain_text("25.00 %")
    expect(figures.locator("[data-figure=complaints]")).to_contain_text("1")
    expect(figures.locator("[data-figure=soft-bounces]")).to_contain_text("0")
    # a message that bounced or drew a complaint after it went out is still done
    expect(page.locator("[data-progress-percent]")).to_have_attribute(
        "data-progress-percent", "100"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
