"""Browser fixtures: Debian's Chromium driven by Playwright, the admin UI served by uvicorn."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaignd.settings import Settings
from campaignd.store.migrate import upgrade
from tests.browser.server import LiveServer, Seeder

CHROMIUM = os.environ.get("CAMPAIGND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIME_ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CAMPAIGND_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        cooldown_days=0,
    )


@pytest.fixture
def seeder(live_settings: Settings) -> Seeder:
    return Seeder(live_settings)


@pytest.fixture
def server(live_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(live_settings) as running:
        yield running


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id=TIME_ZONE)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()
