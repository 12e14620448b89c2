"""A CSV with a blank cell, in a real Chromium on a phone (390 px) and a laptop (1280 px):
the import report and the campaign page say who lacks the variable and what they would see,
and one click shows that recipient's message."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import LIST, admin, sign_in
from tests.browser.test_first_use_browser import fits

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser.test_first_use_browser",)  # its fixture: sized

CSV = b"email,first_name\nann@example.org,Ann\nbob@example.org,\ncy@example.org,Cy\n"


def test_a_blank_cell_is_flagged_with_what_the_recipient_would_see(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    sign_in(page, server, admin(seeder))
    page.goto(f"{server.url}{LIST}/new")
    page.fill("#name", "Spring launch")
    page.fill("#subject", "Hello {{ first_name }}!")
    page.fill("#text_body", "Hi {{ first_name }}, we launched.")
    page.set_input_files(
        "#recipients", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.click("button:has-text('Create campaign')")

    expect(page.locator("h1")).to_have_text("Import report")
    expect(page.locator("[data-missing-variables]")).to_contain_text("1 lack first_name")
    fits(page)

    page.click("text=see what they would get")
    warning = page.locator("[data-missing-variable=first_name]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("1 recipient has no first_name: they will see “Hello !”")
    fits(page)

    warning.locator("a", has_text="bob@example.org").click()
    expect(page).to_have_url(re.compile(r"\?sample=\d+#message$"))
    expect(page.locator("[data-sample-recipient]")).to_have_text("bob@example.org")
    expect(page.locator("[data-sample-subject]")).to_have_text("Hello !")
    fits(page)


def test_a_template_with_a_fallback_is_not_flagged(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    token = admin(seeder)
    campaign_id = seeder.campaign(
        "acme",
        "Covered",
        ["ann@example.org"],
        subject="Hello {{ first_name | default('there', true) }}!",
        html_body="<p>Hi {{ first_name or 'there' }}</p>",
    )
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    expect(page.locator("[data-eligible]")).to_have_text("1")
    expect(page.locator("[data-missing-variables]")).to_have_count(0)
