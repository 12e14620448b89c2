"""Double opt-in and the preference centre in a real Chromium on a phone (390 px): the
public pages fit, their style passes their own Content-Security-Policy, and every button
does what it says."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from campaignd.actions import lists as list_actions
from campaignd.actions.services import Services
from campaignd.api.app import create_app
from campaignd.delivery.unsubscribe import make_token
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.store.secrets import instance_secret
from campaignd.wakeups import LocalWakeups
from tests.browser.server import PLATFORM_ADMIN, Seeder, free_port

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


class PublicServer:
    """The whole application (public pages included) served by uvicorn in a thread."""

    def __init__(self, settings: Settings) -> None:
        services = Services(Database(settings.database_url), settings, LocalWakeups())
        self.services = services
        port = int(settings.public_url.rsplit(":", 1)[1])
        config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> PublicServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def public_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'public.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        public_url=f"http://127.0.0.1:{free_port()}",
    )


@pytest.fixture
def public(public_settings: Settings) -> Iterator[PublicServer]:
    with PublicServer(public_settings) as running:
        yield running


@pytest.fixture
def phone(browser: object) -> Iterator[Page]:
    assert isinstance(browser, Browser)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def seed_lists(seeder: Seeder) -> int:
    organization_id = seeder.organization("acme", "Acme Outdoor Equipment and Adventures")

    async def work(services: Services) -> None:
        for name, description in (
            ("Weekly news from the workshop and the trails", "Every Monday morning"),
            ("Offers", None),
        ):
            await list_actions.create_list(
                services,
                PLATFORM_ADMIN,
                name=name,
                description=description,
                visibility="public",
                opt_in="double",
                organization="acme",
            )

    seeder.run(work)
    return organization_id


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"


def confirmation_link(outbox: Path) -> str:
    [path] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    found = re.search(r"http://\S+/subscribe/confirm/\S+", text.get_content())
    assert found
    return found.group(0)


def test_subscribe_confirm_and_manage_on_a_phone(
    phone: Page, public: PublicServer, public_settings: Settings, tmp_path: Path
) -> None:
    seeder = Seeder(public_settings)
    organization_id = seed_lists(seeder)
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    phone.on("console", watch)
    base = public_settings.public_url

    phone.goto(f"{base}/subscribe/acme")
    expect(phone.locator("h1")).to_contain_text("Subscribe to Acme Outdoor")
    expect(phone.locator("input[name=website]")).not_to_be_in_viewport()
    fits(phone)
    phone.fill("#subscribe-email", "Ada@Example.com")
    phone.get_by_label("Weekly news from the workshop and the trails").check()
    phone.get_by_label("Offers").check()
    phone.get_by_role("button", name="Subscribe").click()
    expect(phone.locator("h1")).to_have_text("Almost done: please check your inbox")
    fits(phone)

    link = confirmation_link(tmp_path / "outbox")
    phone.goto(link)
    expect(phone.locator("h1")).to_have_text("Confirm your subscription")
    fits(phone)
    phone.get_by_role("button", name="Confirm my subscription").click()
    expect(phone.locator("h1")).to_have_text("You are subscribed")
    assert phone.url == link

    async def token(services: Services) -> str:
        secret = await instance_secret(services.database, "unsubscribe")
        return make_token(secret, organization_id, "ada@example.com")

    phone.goto(f"{base}/u/{seeder.run(token)}")
    expect(phone.locator("h1")).to_have_text("Your subscriptions")
    expect(phone.locator(".lists li")).to_have_count(2)
    fits(phone)
    phone.locator(".lists li", has_text="Offers").get_by_role("button", name="Leave").click()
    expect(phone.locator(".done")).to_contain_text("You left Offers")
    expect(phone.locator(".lists li")).to_have_count(1)
    phone.get_by_role("link", name="Stay subscribed").click()
    expect(phone.locator(".done")).to_have_text("Nothing changed: you stay subscribed.")
    phone.get_by_role("button", name="Unsubscribe from everything").click()
    expect(phone.locator("h1")).to_have_text("You are unsubscribed")
    fits(phone)
    assert violations == []
