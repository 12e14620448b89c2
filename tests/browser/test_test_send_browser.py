"""The test send form of a campaign page in a real Chromium, at phone and desktop widths:
type addresses, send, read the result, and find the marked message at a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaignd.settings import Settings
from campaignd.store.migrate import upgrade
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in
from tests.integration.smtp_server import SmtpServer

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def live_settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=smtp.url,
        test_send_max_requests=2,
    )


@pytest.mark.parametrize("width", [390, 1280])
def test_send_a_test_from_the_campaign_page(
    browser: Browser, server: LiveServer, seeder: Seeder, smtp: SmtpServer, width: int
) -> None:
    token = admin(seeder)
    campaign_id = seeder.campaign("acme", "Spring news", ["ada@example.com", "grace@example.com"])
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    sign_in(page, server, token)
    page.goto(f"{server.url}/admin/marketing/campaigns/{campaign_id}")
    form = page.locator("form[data-test-send]")
    expect(page.locator("#test-recipient")).to_have_value("ada@example.com")

    page.fill("#test-to", "me@example.net, not-an-address")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash--error")).to_contain_text("'not-an-address' is not a valid address")
    assert smtp.messages == []

    page.fill("#test-to", "me@example.net boss@example.net")
    page.fill("#test-recipient", "grace@example.com")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash--success")).to_contain_text(
        "Test sent to 2 of 2 addresses as grace@example.com gets it."
    )
    assert sorted(message.recipients[0] for message in smtp.messages) == [
        "boss@example.net",
        "me@example.net",
    ]
    assert smtp.messages[0].parsed()["Subject"] == "[Test] News for you"
    expect(page.locator(".badge").first).to_have_text("draft")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.fill("#test-to", "me@example.net")
    form.locator("button[type=submit]").click()
    page.fill("#test-to", "me@example.net")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash--error")).to_contain_text("Too many test sends")
    assert len(smtp.messages) == 3
    context.close()
