"""The frequency rules page in a real Chromium, on a phone and on a desktop: set the
organization's rules, add a category, see a bad rule refused, go back to the default."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_set_rules_add_a_category_and_reset(
    browser: Browser, server: LiveServer, seeder: Seeder, width: int
) -> None:
    token = admin(seeder)
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    sign_in(page, server, token)
    page.click("nav >> text=Settings")
    page.click(".settings-list >> text=Frequency rules")
    expect(page.locator("h1")).to_have_text("Frequency rules")
    own = page.locator("[data-rules=organization]")
    # The live server runs with COOLDOWN_DAYS=0: the default is no rule at all.
    expect(own.locator("[data-rules-text]")).to_have_text("none")
    expect(own.locator(".badge")).to_have_text("default")

    page.fill("#rules", "1/1d, 3/7d")
    page.click("button[data-action=set-rules]")
    expect(page.locator(".flash--success")).to_contain_text("rules are now 3/7d 1/1d")
    expect(own.locator("[data-rules-text]")).to_have_text("3/7d 1/1d")

    page.fill("#rules", "0/7d")
    page.click("button[data-action=set-rules]")
    expect(page.locator(".flash--error")).to_contain_text("max: must be between 1 and 1000")
    expect(own.locator("[data-rules-text]")).to_have_text("3/7d 1/1d")

    page.fill("#category", "product-updates")
    page.fill("#category-rules", "2/7d")
    page.click("button[data-action=add-category]")
    card = page.locator("[data-category='product-updates']")
    expect(card.locator("[data-rules-text]")).to_have_text("2/7d")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button[data-action=remove-category]").click()
    expect(page.locator(".flash--success")).to_contain_text("product-updates is removed")
    expect(page.locator("[data-category='product-updates']")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=reset-rules]")
    expect(page.locator(".flash--success")).to_contain_text("Back to the default rule, none")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
