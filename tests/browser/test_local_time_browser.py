"""Local-time campaigns and send windows in a real Chromium, at 1280 and 390 px: the
Scheduled page shows the first and last wave, a campaign page its waves, and a campaign
outside its send window says when the window next opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from campaignd.actions import campaigns as actions
from campaignd.actions import local_time
from campaignd.actions.services import Services
from campaignd.domain.local_delivery import DAYS
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.store.columns import utcnow
from tests.browser.server import PLATFORM_ADMIN, LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in

pytestmark = pytest.mark.browser

RECIPIENTS = [
    {"email": "tokyo@example.org", "vars": {"timezone": "Asia/Tokyo"}},
    "plain@example.org",
]


def local_time_campaign(seeder: Seeder) -> tuple[int, str]:
    """Scheduled 12 hours from now in UTC, so Tokyo's wave comes 3 hours from now."""
    campaign_id = seeder.campaign("acme", "Local news", [])
    moment = (utcnow() + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")

    async def work(services: Services) -> None:
        from campaignd.domain.recipients import from_json

        await actions.add_recipients(services, PLATFORM_ADMIN, campaign_id, from_json(RECIPIENTS))
        await local_time.schedule_local(services, PLATFORM_ADMIN, campaign_id, moment)

    seeder.run(work)
    return campaign_id, moment


def waiting_campaign(seeder: Seeder) -> int:
    """Started now, with a window that is closed all of today (UTC)."""
    campaign_id = seeder.campaign("acme", "Weekday news", ["a@example.org"])
    today = DAYS[utcnow().weekday()]
    window = {"start": "00:00", "end": "23:59", "days": [day for day in DAYS if day != today]}

    async def work(services: Services) -> None:
        await local_time.set_send_window(services, PLATFORM_ADMIN, campaign_id, window)
        await actions.execute(services, PLATFORM_ADMIN, campaign_id)
        scheduler = Scheduler(
            services.database, services.settings, lock=LocalLock(), wakeups=services.wakeups
        )
        await scheduler.run_burst()

    seeder.run(work)
    return campaign_id


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1280, 390])
def test_waves_and_the_send_window_are_shown(
    browser: Browser, server: LiveServer, seeder: Seeder, width: int
) -> None:
    token = admin(seeder)
    local_id, moment = local_time_campaign(seeder)
    waiting_id = waiting_campaign(seeder)
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    sign_in(page, server, token)

    page.goto(f"{server.url}/admin/marketing/campaigns/scheduled")
    row = page.locator(f"[data-campaign-id='{local_id}']")
    expect(row.locator("[data-local-time]")).to_contain_text(moment.replace("T", " "))
    expect(row.locator("[data-first-wave]")).to_contain_text("first wave Asia/Tokyo")
    expect(row.locator("[data-last-wave]")).to_contain_text("last wave UTC")
    fits(page, width)

    page.goto(f"{server.url}/admin/marketing/campaigns/{local_id}")
    expect(page.locator("[data-local-time]")).to_contain_text("in each recipient's zone")
    expect(page.locator("#waves [data-wave]")).to_have_count(2)
    expect(page.locator("#waves [data-wave]").first).to_contain_text("Asia/Tokyo")
    fits(page, width)

    page.goto(f"{server.url}/admin/marketing/campaigns/{waiting_id}")
    expect(page.locator("[data-waiting]")).to_contain_text(
        "Waiting for the send window, next opens at"
    )
    expect(page.locator("[data-send-window]")).to_contain_text("00:00\u201323:59")
    fits(page, width)
    context.close()
