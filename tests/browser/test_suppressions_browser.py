"""The suppression list and the message preview in a real Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from campaignd.actions import campaigns
from campaignd.actions import suppressions as actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.actions.services import Services
from campaignd.domain.recipients import from_json
from tests.browser.server import PLATFORM_ADMIN, LiveServer, Seeder
from tests.browser.test_admin_browser import LIST, admin, sign_in
from tests.browser.test_first_use_browser import PHONE, fits, open_page

pytestmark = pytest.mark.browser

PAGE = "/admin/marketing/suppressions"


def suppressed(seeder: Seeder) -> list[str]:
    async def work(services: Services) -> list[str]:
        _, rows, _ = await actions.list_suppressions(
            services, PLATFORM_ADMIN, organization="acme", limit=1000
        )
        return [str(row["email"]) for row in rows]

    result: list[str] = seeder.run(work)
    return result


def test_add_see_it_listed_and_remove_it(page: Page, server: LiveServer, seeder: Seeder) -> None:
    token = admin(seeder)
    sign_in(page, server, token)
    page.click("nav >> text=Settings")
    page.click(".settings-list >> text=Suppressions")
    expect(page.locator("h1")).to_have_text("Suppression list")
    expect(page.get_by_text("Nobody is suppressed yet")).to_be_visible()

    page.fill("#email", "Someone@Example.org")
    page.select_option("#reason", "complained")
    page.click("button[data-action=add]")
    expect(page.locator(".flash--success")).to_have_text(
        "someone@example.org is suppressed (complained): it will not be mailed."
    )
    row = page.locator("tr[data-email='someone@example.org']")
    expect(row).to_contain_text("complained")
    expect(row.locator("time")).to_be_visible()
    assert suppressed(seeder) == ["someone@example.org"]

    messages: list[str] = []

    def dismiss(dialog: object) -> None:
        messages.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.once("dialog", dismiss)
    row.locator("button[data-action=remove]").click()
    assert messages and "someone@example.org" in messages[0]
    expect(row).to_be_visible()
    assert suppressed(seeder) == ["someone@example.org"]

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=remove]").click()
    expect(page.locator(".flash--success")).to_have_text(
        "someone@example.org is off the suppression list and can be mailed again."
    )
    expect(page.locator("tr[data-email]")).to_have_count(0)
    assert suppressed(seeder) == []


def test_a_bad_address_is_named_and_kept_in_the_form(
    page: Page, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    sign_in(page, server, token)
    page.goto(f"{server.url}{PAGE}")
    page.eval_on_selector("#email", "element => element.type = 'text'")
    page.fill("#email", "someone@")
    page.click("button[data-action=add]")
    expect(page.locator(".flash--error")).to_contain_text(
        "Email: 'someone@' is not a valid address"
    )
    expect(page.locator("#email")).to_have_value("someone@")
    assert suppressed(seeder) == []


def personal_campaign(seeder: Seeder) -> int:
    async def work(services: Services) -> int:
        view, _ = await campaigns.create_campaign(
            services,
            PLATFORM_ADMIN,
            CampaignContent(
                name="Personal",
                subject="For {{ first_name }}",
                html_body="<h1>Hello {{ first_name }}</h1><script>parent.owned = 1</script>",
            ),
            organization="acme",
            recipient_list=from_json(
                [
                    {"email": "ann@example.org", "vars": {"first_name": "Ann"}},
                    {"email": "bob@example.org", "vars": {"first_name": "Bob"}},
                ]
            ),
        )
        return int(view["id"])

    campaign_id: int = seeder.run(work)
    return campaign_id


def test_the_preview_shows_one_recipient_in_a_sandbox(
    page: Page, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    campaign_id = personal_campaign(seeder)
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    expect(page.locator("[data-sample-recipient]")).to_have_text("ann@example.org")
    expect(page.locator("[data-sample-subject]")).to_have_text("For Ann")
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("h1")).to_have_text("Hello Ann")
    unsubscribe = re.compile(re.escape(f"{server.settings.public_url}/u/") + r"[\w.-]+$")
    expect(frame.get_by_role("link", name="Unsubscribe")).to_have_attribute("href", unsubscribe)
    assert page.evaluate("window.owned") is None

    page.select_option("#sample", label="bob@example.org")
    page.click("form.sample-picker button")
    expect(page).to_have_url(re.compile(r"\?sample=\d+#message$"))
    expect(page.locator("[data-sample-subject]")).to_have_text("For Bob")
    expect(frame.locator("h1")).to_have_text("Hello Bob")


def test_import_a_file_and_download_the_list_on_a_phone(
    browser: object, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    context, phone = open_page(browser, PHONE)
    try:
        sign_in(phone, server, token)
        phone.goto(f"{server.url}{PAGE}")
        fits(phone)
        data = (
            b"email,reason\nann@example.org,bounced\n"
            b"a-rather-long-address-that-should-still-fit@subdomain.example.org,\n"
            b"not-an-address,\nbob@example.org,lost\n"
        )
        phone.set_input_files(
            "#import-file", files=[{"name": "old.csv", "mimeType": "text/csv", "buffer": data}]
        )
        phone.select_option("#import-reason", "unsubscribed")
        phone.click("button[data-action=import]")
        expect(phone).to_have_url(re.compile(rf"{PAGE}/imports/\d+$"))
        expect(phone.locator("[data-stat=added]")).to_have_text("2")
        expect(phone.locator("[data-stat=invalid]")).to_have_text("2")
        expect(phone.locator("tr[data-row]")).to_have_count(2)
        expect(phone.locator("tr[data-row='4']")).to_contain_text("not-an-address")
        expect(phone.locator("tr[data-row='5']")).to_contain_text("reason 'lost'")
        fits(phone)

        phone.reload()
        expect(phone.locator("[data-stat=added]")).to_have_text("2")
        assert suppressed(seeder) == [
            "a-rather-long-address-that-should-still-fit@subdomain.example.org",
            "ann@example.org",
        ]

        phone.click("text=Back to the suppression list")
        expect(phone.locator("tr[data-email]")).to_have_count(2)
        fits(phone)
        with phone.expect_download() as download:
            phone.click("a[data-action=export]")
        assert download.value.suggested_filename == "suppressions-acme.csv"
        lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
        assert lines[0] == "email,reason,created_at"
        assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
            "a-rather-long-address-that-should-still-fit@subdomain.example.org,unsubscribed",
            "ann@example.org,bounced",
        ]
    finally:
        context.close()  # type: ignore[attr-defined]
