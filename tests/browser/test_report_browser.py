"""A campaign's report page and the comparison page in a real Chromium, at 1280 and 390 px:
the figures, the timeline chart, clicks per link, the CSV download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from campaignd.actions.services import Services
from campaignd.store.columns import utcnow
from campaignd.store.schema import campaigns, deliveries
from campaignd.store.tracking import record_event, save_links
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in

pytestmark = pytest.mark.browser

LINKS = (
    "https://shop.example/winter-sale?utm_source=newsletter&utm_campaign=a-very-long-name",
    "https://blog.example/",
)


def sent_and_read(seeder: Seeder) -> int:
    """A campaign of acme sent to four addresses: three opened it, two clicked, one of the
    opens was Apple's proxy."""
    campaign_id = seeder.campaign(
        "acme", "Winter sale", [f"reader{number}@example.org" for number in range(4)]
    )
    seeder.execute(campaign_id)
    seeder.deliver_by_hand(campaign_id)

    async def work(services: Services) -> None:
        now = utcnow()
        async with services.database.transaction() as connection:
            await connection.execute(
                deliveries.update()
                .where(deliveries.c.campaign_id == campaign_id)
                .values(sent_at=now - timedelta(hours=30))
            )
            await connection.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(started_at=now - timedelta(hours=30))
            )
            await save_links(connection, campaign_id, LINKS)
            ids = list(
                await connection.scalars(
                    select(deliveries.c.id)
                    .where(deliveries.c.campaign_id == campaign_id)
                    .order_by(deliveries.c.id)
                )
            )
            events = [
                (ids[0], "open", None, None, 2),
                (ids[1], "open", None, None, 5),
                (ids[2], "open", None, "apple_privacy", 1),
                (ids[0], "click", 0, None, 3),
                (ids[1], "click", 1, None, 20),
            ]
            for delivery_id, kind, link, machine, hours in events:
                await record_event(
                    connection,
                    campaign_id=campaign_id,
                    delivery_id=delivery_id,
                    kind=kind,
                    link_index=link,
                    machine=machine,
                    at=now - timedelta(hours=30 - hours),
                )
        return None

    seeder.run(work)
    return campaign_id


def check_report(page: Page, server: LiveServer, campaign_id: int, width: int) -> None:
    page.goto(f"{server.url}/admin/marketing/campaigns/{campaign_id}")
    page.click(".actions a:text-is('Report')")
    expect(page).to_have_url(f"{server.url}/admin/marketing/campaigns/{campaign_id}/report")
    expect(page.locator("[data-figure=sent] .stat__value")).to_have_text("4")
    expect(page.locator("[data-figure=delivered] .stat__value")).to_have_text("4")
    expect(page.locator("[data-figure=unique-clicks] .stat__value")).to_have_text("2")
    expect(page.locator("[data-figure=click-through-rate] .stat__value")).to_have_text("50.0%")
    expect(page.locator("[data-timeline]")).to_be_visible()
    assert page.locator("[data-timeline] rect").count() >= 2
    rows = page.locator("[data-links] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("shop.example/winter-sale")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    with page.expect_download() as download:
        page.click("[data-export]")
    text = download.value.path().read_text()
    assert text.splitlines()[0].startswith("email,status,code,reason,sent_at,opened")
    assert len(text.splitlines()) == 5


def test_the_report_and_the_comparison_at_both_widths(
    browser: Browser, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    campaign_id = sent_and_read(seeder)
    for width, height, mobile in ((1280, 900, False), (390, 844, True)):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            has_touch=mobile,
            accept_downloads=True,
        )
        page = context.new_page()
        sign_in(page, server, token)
        check_report(page, server, campaign_id, width)
        page.click("a:has-text('Compare campaigns')")
        row = page.locator(f"[data-comparison] tr[data-campaign='{campaign_id}']")
        expect(row).to_contain_text("Winter sale")
        expect(row).to_contain_text("50.0%")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        context.close()
