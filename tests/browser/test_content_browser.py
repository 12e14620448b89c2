"""Writing a campaign in a real Chromium: layouts added, previewed, edited and removed from
their page; the campaign form's live preview follows what is typed (Markdown in the layout,
desktop and phone side by side, the text part below) and shows a template problem next to
its field, with its line. At 1280 px and at 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from tests.browser.conftest import TIME_ZONE
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in

pytestmark = pytest.mark.browser

LAYOUT = (
    "<html><head><style>h1 { color: #0f766e; }</style></head><body>"
    '<p class="brand">ACME Outdoor</p>{{ content }}'
    '<p>ACME Ltd <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def add_layout(page: Page) -> None:
    page.click("nav >> text=Settings")
    page.click(".settings-list >> text=Layouts")
    expect(page.locator("h1")).to_have_text("Layouts")
    expect(page.get_by_text("No layouts yet")).to_be_visible()
    page.fill("#name", "nohole")
    page.fill("#html", "<p>no place for the body</p>")
    page.click("button[data-action=add]")
    expect(page.locator("[data-layout-error]")).to_contain_text("{{ content }}")
    expect(page.locator("[data-layout]")).to_have_count(0)
    page.fill("#name", "brand")
    page.fill("#html", LAYOUT)
    page.check("input[name=default]")
    page.click("button[data-action=add]")
    expect(page.locator(".flash--success")).to_contain_text("The layout brand is added")
    card = page.locator("[data-layout=brand]")
    expect(card.locator("[data-default]")).to_be_visible()
    sample = card.frame_locator("iframe")
    expect(sample.locator("p.brand")).to_have_text("ACME Outdoor")
    expect(sample.locator("h1")).to_have_attribute("style", "color: #0f766e;")


def frame(page: Page, which: str) -> FrameLocator:
    return page.frame_locator(f"iframe[data-live-{which}]")


def write_with_live_preview(page: Page, width: int) -> None:
    page.goto(page.url.split("/admin/")[0] + "/admin/marketing/campaigns/new")
    expect(page.locator("#layout")).to_have_value("brand")
    page.fill("#name", "Spring")
    page.fill("#subject", "Spring news")
    page.select_option("#body_format", "markdown")
    page.fill("#html_body", "# Hello {{ email }}\n\nOur **tents** are in.")
    desktop, phone = frame(page, "desktop"), frame(page, "phone")
    expect(desktop.locator("h1")).to_have_text("Hello someone@example.com")
    expect(desktop.locator("strong")).to_have_text("tents")
    expect(desktop.locator("p.brand")).to_have_text("ACME Outdoor")
    expect(phone.locator("h1")).to_have_text("Hello someone@example.com")
    text = page.locator("[data-live-text]")
    expect(text).to_contain_text("Hello someone@example.com")
    expect(text).to_contain_text("Our tents are in.")
    expect(text).not_to_contain_text("<")

    page.fill("#html_body", "# Hello again\n\nline two\n{% if %}")
    problem = page.locator("#live-problem-html_body")
    expect(problem).to_contain_text("line 4")
    page.fill("#html_body", "# Hello again\n\nFixed.")
    expect(problem).to_be_empty()
    expect(desktop.locator("h1")).to_have_text("Hello again")
    if width >= 1000:
        boxes = [
            page.locator(f"iframe[data-live-{which}]").bounding_box()
            for which in ("desktop", "phone")
        ]
        assert boxes[0] is not None and boxes[1] is not None
        assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2  # side by side
        assert boxes[1]["width"] < boxes[0]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.select_option("#layout", "")
    expect(desktop.locator("p.brand")).to_have_count(0)
    page.select_option("#layout", "brand")
    expect(desktop.locator("p.brand")).to_have_text("ACME Outdoor")
    page.click("button:has-text('Create campaign')")
    expect(page.locator(".flash--success")).to_contain_text("Spring")


def test_layouts_and_the_live_preview_on_a_desktop(
    page: Page, server: LiveServer, seeder: Seeder
) -> None:
    sign_in(page, server, admin(seeder))
    add_layout(page)
    write_with_live_preview(page, 1280)

    page.goto(f"{server.url}/admin/marketing/layouts/brand")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=remove]")
    expect(page.locator(".flash--success")).to_contain_text("The layout brand is removed")


def test_the_live_preview_on_a_phone(browser: Browser, server: LiveServer, seeder: Seeder) -> None:
    token = admin(seeder)
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        timezone_id=TIME_ZONE,
    )
    context.set_default_timeout(10_000)
    phone = context.new_page()
    sign_in(phone, server, token)
    add_layout(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    write_with_live_preview(phone, 390)
    context.close()
