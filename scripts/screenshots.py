"""Screenshots of the admin UI for docs/screenshots/, from a demo database in a temporary folder.

    python scripts/screenshots.py [--out docs/screenshots]

Needs Debian's Chromium at /usr/bin/chromium (or CAMPAIGND_CHROMIUM) and Playwright for Python.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from campaignd.actions.dkim import add_key  # noqa: E402
from campaignd.actions.services import Services  # noqa: E402
from campaignd.actions.suppressions import add_suppressions  # noqa: E402
from campaignd.settings import Settings  # noqa: E402
from campaignd.store.columns import utcnow  # noqa: E402
from campaignd.store.migrate import upgrade  # noqa: E402
from tests.browser.server import PLATFORM_ADMIN, LiveServer, Seeder  # noqa: E402
from tests.integration.dns_server import DnsServer  # noqa: E402

CHROMIUM = os.environ.get("CAMPAIGND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def seed(seeder: Seeder) -> str:
    """A believable organization: a sent newsletter, one sending, one scheduled, drafts."""
    acme = seeder.organization("acme", "Acme Outdoor")
    token = seeder.token("organization_admin", acme, "Dana (marketing)")
    people = [f"customer{number}@example.org" for number in range(1, 241)]
    sent = seeder.campaign("acme", "Winter sale: last call", people[:120])
    seeder.execute(sent)
    seeder.deliver_by_hand(sent, sent=117, hours=5, failed=3)
    sending = seeder.campaign("acme", "Spring collection preview", people[100:240])
    seeder.execute(sending)
    seeder.deliver_by_hand(sending, sent=70, hours=3, finish=False)
    seeder.campaign(
        "acme",
        "Weekend hiking guide",
        people[:60],
        scheduled_for=utcnow() + timedelta(hours=3),
        timezone="Europe/Berlin",
    )
    seeder.campaign(
        "acme",
        "Members early access",
        people[60:200],
        scheduled_for=utcnow() + timedelta(hours=20),
        timezone="America/New_York",
    )
    seeder.campaign("acme", "Autumn catalogue (draft)", people[:10])

    async def suppress(services: Services) -> None:
        for reason, emails in (
            ("unsubscribed", ["customer7@example.org", "customer19@example.org"]),
            ("bounced", ["customer42@example.org"]),
            ("manual", ["press@example.org"]),
        ):
            await add_suppressions(
                services, PLATFORM_ADMIN, emails, reason=reason, organization="acme"
            )

    seeder.run(suppress)
    return token


def seed_dkim(seeder: Seeder, dns: DnsServer) -> None:
    """An RSA key whose record DNS serves, and an Ed25519 key not published yet."""

    async def keys(services: Services) -> None:
        for selector, algorithm in (("cmp1", "rsa"), ("cmp1e", "ed25519")):
            view = await add_key(
                services,
                PLATFORM_ADMIN,
                domain="news.acme.example",
                selector=selector,
                algorithm=algorithm,
                organization="acme",
            )
            if algorithm == "rsa":
                dns.publish(view.record_name, view.record_value)

    seeder.run(keys)


CSV = (
    b"email,first_name\ncustomer7@example.org,Ann\nnew.customer@example.org,Ben\n"
    b"customer1@example.org,Cleo\nnot-an-address,Dan\n"
)
OLD_ESP = (
    b"Email,Reason,Unsubscribed on\nmaria.lopez@example.org,,2025-03-02\n"
    b"j.chen@example.net,complained,2025-04-11\ncustomer2@example.org,,2025-05-20\n"
    b"tom@example,,2025-06-01\nliz@example.com,spam,2025-06-07\nsam.o@example.org,,2025-07-15\n"
)


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/admin/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/marketing/campaigns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, DnsServer() as dns:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        upgrade(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            email_transport=f"file://{Path(folder) / 'outbox'}",
            cooldown_days=0,
            dns_nameservers=dns.address,  # the DKIM page asks a stub DNS server
        )
        seeder = Seeder(settings)
        token = seed(seeder)
        seed_dkim(seeder, dns)
        with LiveServer(settings) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(
                viewport={"width": 1280, "height": 860}, timezone_id="Europe/Berlin"
            )
            page = context.new_page()
            page.goto(f"{server.url}/admin/login")
            page.screenshot(path=options.out / "login.png")
            sign_in(page, server.url, token)
            page.screenshot(path=options.out / "campaigns.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/new")
            page.screenshot(path=options.out / "new-campaign.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/scheduled")
            page.screenshot(path=options.out / "scheduled.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/2")
            page.screenshot(path=options.out / "campaign-sending.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/1")
            page.screenshot(path=options.out / "campaign-sent.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/3")
            page.screenshot(path=options.out / "campaign-scheduled.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/5")
            page.set_input_files(
                "#recipients-file",
                files=[{"name": "spring-customers.csv", "mimeType": "text/csv", "buffer": CSV}],
            )
            page.click("button:has-text('Upload')")
            page.wait_for_url("**/imports/*")
            page.screenshot(path=options.out / "import-report.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/campaigns/new")
            page.fill("#name", "Spring newsletter")
            page.fill("#subject", "What's new this spring, {{ first_name }}")
            page.fill("#text_body", "Hello {{ first_name }},")
            page.fill("#date", "2025-01-01")
            page.fill("#time", "14:00")
            page.click("button:has-text('Create campaign')")
            page.screenshot(path=options.out / "form-problem.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/suppressions")
            page.screenshot(path=options.out / "suppressions.png", full_page=True)
            page.set_input_files(
                "#import-file",
                files=[
                    {"name": "old-esp-unsubscribes.csv", "mimeType": "text/csv", "buffer": OLD_ESP}
                ],
            )
            page.select_option("#import-reason", "unsubscribed")
            page.click("button[data-action=import]")
            page.wait_for_url("**/suppressions/imports/*")
            page.screenshot(path=options.out / "suppression-import.png", full_page=True)
            page.goto(f"{server.url}/admin/marketing/dkim")
            page.screenshot(path=options.out / "dkim.png", full_page=True)
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                timezone_id="Europe/Berlin",
            ).new_page()
            sign_in(phone, server.url, token)
            phone.screenshot(path=options.out / "phone-campaigns.png", full_page=True)
            phone.goto(f"{server.url}/admin/marketing/campaigns/5")
            phone.screenshot(path=options.out / "phone-campaign.png")
            phone.goto(f"{server.url}/admin/marketing/dkim")
            phone.screenshot(path=options.out / "phone-dkim.png", full_page=True)
            browser.close()
    print(f"screenshots written to {options.out}")


if __name__ == "__main__":
    main()
