"""The webhooks pages in a real Chromium, on a phone and on a desktop: add an endpoint and
copy its secret (shown once), see it fail and be disabled with the reason, read its
attempts, enable it and replay an event."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from playwright.sync_api import Browser, Page, expect

from campaignd.actions.services import Services
from campaignd.settings import Settings
from campaignd.store.migrate import upgrade
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in
from tests.integration.webhook_support import Clock, dispatcher, record

pytestmark = pytest.mark.browser


class Gone(BaseHTTPRequestHandler):
    """Answers every POST with 410 Gone (and counts them)."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        Gone.received.append(self.headers.get("webhook-id", ""))
        self.send_response(410)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Gone.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        webhook_allow_loopback=True,
        webhook_timeout=5.0,
    )


def deliver(seeder: Seeder) -> None:
    """An event of acme, recorded and posted (the instance's dispatcher, in burst mode)."""

    async def work(services: Services) -> None:
        await record(services.database, 1, "unsubscribed", email="ada@example.com")
        await dispatcher(services.database, services.settings, Clock()).run_burst()

    seeder.run(work)


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [390, 1280])
def test_add_see_it_disabled_enable_and_replay(
    browser: Browser, server: LiveServer, seeder: Seeder, receiver: str, width: int
) -> None:
    token = admin(seeder)
    context = browser.new_context(
        viewport={"width": width, "height": 844}, is_mobile=width < 500, has_touch=width < 500
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, server, token)
    page.click("nav >> text=Settings")
    page.click(".settings-list >> text=Webhooks")
    expect(page.locator("h1")).to_have_text("Webhooks")
    expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()
    fits(page, width)

    page.fill("#url", "https://10.0.0.7/hooks")
    page.check("input[value=unsubscribed]")
    page.click("button[data-action=add]")
    expect(page.locator(".flash--error")).to_contain_text("private network")
    expect(page.locator("#url")).to_have_value("https://10.0.0.7/hooks")

    page.fill("#url", receiver)
    page.click("button[data-action=add]")
    secret = page.locator("[data-secret]").inner_text()
    assert secret.startswith("whsec_")
    card = page.locator("[data-endpoint]")
    expect(card.locator("[data-state]")).to_have_text("enabled")
    fits(page, width)
    page.goto(f"{server.url}/admin/marketing/webhooks")
    expect(page.locator("[data-secret]")).to_have_count(0)

    deliver(seeder)
    page.reload()
    expect(card.locator("[data-state]")).to_have_text("disabled")
    expect(card.locator("[data-disabled-reason]")).to_contain_text("410 Gone")
    fits(page, width)

    card.locator("[data-action=attempts]").click()
    expect(page.locator("[data-attempts]")).to_contain_text("HTTP 410")
    expect(page.locator("[data-disabled-reason]")).to_be_visible()
    expect(page.locator("[data-action=replay]")).to_have_count(0)
    fits(page, width)

    page.click("text=← Webhooks")
    card.locator("[data-action=enable]").click()
    expect(page.locator(".flash--success")).to_contain_text("is enabled")
    card.locator("[data-action=attempts]").click()
    message_id = Gone.received[0]
    page.locator(f"[data-message='{message_id}'] [data-action=replay]").click()
    expect(page.locator(".flash--success")).to_contain_text(f"{message_id} is posted again")
    expect(page.locator(f"[data-message='{message_id}'] [data-status]")).to_have_text("pending")
    fits(page, width)
    context.close()
