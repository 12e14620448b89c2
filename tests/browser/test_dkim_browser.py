"""The DKIM keys page in a real Chromium, on a phone: add a key, read the record to publish,
see DNS serve it (a stub DNS server on 127.0.0.1), remove it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaignd.settings import Settings
from campaignd.store.migrate import upgrade
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in
from tests.integration.dns_server import DnsServer

pytestmark = pytest.mark.browser

NAME = "cmp1._domainkey.news.acme.example"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def live_settings(tmp_path: Path, dns_server: DnsServer) -> Settings:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        dns_nameservers=dns_server.address,
        dns_timeout=2.0,
    )


def test_add_publish_and_remove_on_a_phone(
    browser: Browser, server: LiveServer, seeder: Seeder, dns_server: DnsServer
) -> None:
    token = admin(seeder)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    sign_in(phone, server, token)
    phone.click("nav >> text=Settings")
    phone.click(".settings-list >> text=DKIM keys")
    expect(phone.locator("h1")).to_have_text("DKIM keys")
    expect(phone.get_by_text("No DKIM keys yet")).to_be_visible()

    phone.fill("#domain", "news.acme.example")
    phone.fill("#selector", "cmp1")
    phone.click("button[data-action=add]")
    expect(phone.locator(".flash--success")).to_contain_text(f"Publish its TXT record at {NAME}")
    card = phone.locator(f"[data-key='{NAME}']")
    expect(card.locator("[data-record-name]")).to_have_text(NAME)
    expect(card.locator("[data-dns-status]")).to_have_text("not published")
    value = card.locator("[data-record-value]").inner_text()
    assert value.startswith("v=DKIM1; k=rsa; p=")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    dns_server.publish(NAME, value)
    phone.reload()
    expect(card.locator("[data-dns-status]")).to_have_text("published")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.once("dialog", lambda dialog: dialog.accept())
    card.locator("button[data-action=remove]").click()
    expect(phone.locator(".flash--success")).to_contain_text(f"The key {NAME} is removed")
    expect(phone.locator(f"[data-key='{NAME}']")).to_have_count(0)
    context.close()
