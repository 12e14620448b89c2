"""What a new user tripped over, in a real Chromium on a phone (390 px) and a laptop (1280 px):
reloading after a form, the zone a campaign was scheduled in, where a form's problem is
said, and whether every page fits a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIME_ZONE
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import LIST, admin, sign_in

pytestmark = pytest.mark.browser

PHONE = 390
LAPTOP = 1280
HEIGHT = 844
CSV = b"email,first_name\nann@example.org,Ann\nbob@example.org,Bob\nnot-an-address,X\n"


def open_page(browser: object, width: int, time_zone: str = TIME_ZONE) -> tuple[object, Page]:
    assert isinstance(browser, Browser)
    phone = width < 700
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT},
        is_mobile=phone,
        has_touch=phone,
        timezone_id=time_zone,
    )
    context.set_default_timeout(10_000)
    return context, context.new_page()


@pytest.fixture(params=[PHONE, LAPTOP], ids=["phone", "laptop"])
def sized(request: pytest.FixtureRequest, browser: object) -> Iterator[Page]:
    context, page = open_page(browser, int(request.param))
    yield page
    context.close()  # type: ignore[attr-defined]


def width_of(page: Page) -> int:
    return int(page.viewport_size["width"]) if page.viewport_size else LAPTOP


def fits(page: Page) -> None:
    """No sideways scrolling at the page's width."""
    width = width_of(page)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: {scroll_width} px wide at {width} px"


def fill_content(page: Page) -> None:
    page.fill("#name", "First launch")
    page.fill("#subject", "Hello {{ first_name }}")
    page.fill("#text_body", "Hi {{ first_name }}, we launched.")


def new_campaign(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}{LIST}/new")
    fill_content(page)


def test_reloading_after_create_campaign_makes_no_second_one(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    sign_in(page, server, admin(seeder))
    new_campaign(page, server)
    page.set_input_files(
        "#recipients", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.fill("#date", f"{datetime.now().year + 1}-03-01")
    page.fill("#time", "09:00")
    page.select_option("#timezone", "Europe/Berlin")
    page.click("button:has-text('Create campaign')")
    expect(page.locator("h1")).to_have_text("Import report")
    expect(page).to_have_url(re.compile(r"/campaigns/\d+/imports/\d+$"))
    expect(page.locator("[data-goes-out]")).to_contain_text("09:00 AM (Europe/Berlin)")
    expect(page.locator("[data-eligible-now]")).to_contain_text("2 of 2")
    fits(page)

    page.reload()
    expect(page.locator("h1")).to_have_text("Import report")
    expect(page.locator("[data-stat=added]")).to_have_text("2")
    page.go_back()
    page.go_forward()
    assert seeder.campaign_count() == 1
    page.goto(f"{server.url}{LIST}")
    expect(page.locator("tbody tr")).to_have_count(1)


def test_a_campaign_keeps_the_zone_it_was_scheduled_in(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    sign_in(page, server, admin(seeder))
    year = datetime.now().year + 1
    new_campaign(page, server)
    page.fill("#date", f"{year}-01-15")
    page.fill("#time", "09:00")
    page.select_option("#timezone", "America/New_York")
    page.click("button:has-text('Create campaign')")
    expect(page.locator(".title-with-badge .badge")).to_have_text("scheduled")

    when = page.locator("[data-when]")
    expect(when.locator("time")).to_have_text(f"Fri, Jan 15, {year}, 09:00 AM (America/New_York)")
    expect(when.locator("[data-viewer-time]")).to_have_text(
        f"Fri, Jan 15, {year}, 03:00 PM your time ({TIME_ZONE})"
    )
    details = page.locator(".area-details")
    expect(details).to_contain_text("09:00 AM (America/New_York)")
    expect(page.locator("#schedule-timezone")).to_have_value("America/New_York")
    expect(page.locator("#schedule-date")).to_have_value(f"{year}-01-15")
    expect(page.locator("#schedule-time")).to_have_value("09:00")
    fits(page)

    page.click("a:has-text('Edit')")
    expect(page.locator("#timezone")).to_have_value("America/New_York")
    expect(page.locator("#time")).to_have_value("09:00")
    page.goto(f"{server.url}{LIST}")
    expect(page.locator("td[data-label='Scheduled for'] time")).to_contain_text(
        "09:00 AM (America/New_York)"
    )

    soon = datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(hours=2)
    seeder.campaign("acme", "Tokyo sale", ["a@x.org"], scheduled_for=soon, timezone="Asia/Tokyo")
    page.goto(f"{server.url}{LIST}/scheduled")
    row = page.locator("tr", has_text="Tokyo sale")
    expect(row.locator("time")).to_contain_text(f"{soon:%I:%M %p} (Asia/Tokyo)")
    expect(row.locator("[data-viewer-time]")).to_contain_text(f"your time ({TIME_ZONE})")
    fits(page)


def test_a_viewer_in_the_campaigns_zone_sees_one_time(
    browser: object, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    later = datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)
    campaign_id = seeder.campaign(
        "acme", "New York", ["a@x.org"], scheduled_for=later, timezone="America/New_York"
    )
    context, page = open_page(browser, LAPTOP, "America/New_York")
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    expect(page.locator("[data-when] time")).to_contain_text("(America/New_York)")
    expect(page.locator("[data-when] [data-viewer-time]")).to_be_hidden()
    context.close()  # type: ignore[attr-defined]


def test_a_past_time_is_said_as_typed_next_to_the_field(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    sign_in(page, server, admin(seeder))
    new_campaign(page, server)
    page.fill("#date", "2025-01-01")
    page.fill("#time", "14:00")
    page.select_option("#timezone", "Europe/Berlin")
    page.click("button:has-text('Create campaign')")

    message = "14:00 on 1 January 2025 (Europe/Berlin) is in the past; choose a later time."
    error = page.locator("#when-error")
    expect(error).to_have_text(message)
    for field in ("#date", "#time"):
        expect(page.locator(field)).to_have_attribute("aria-describedby", "when-error")
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#date")).to_have_value("2025-01-01")
    expect(page.locator("#time")).to_have_value("14:00")
    expect(page.locator("#timezone")).to_have_value("Europe/Berlin")
    expect(page.locator("#name")).to_have_value("First launch")
    expect(page.get_by_text("scheduledFor")).to_have_count(0)
    # the summary at the top is in the first screen and leads to the field
    summary = page.locator("[data-form-problem]")
    box = summary.bounding_box()
    assert box and box["y"] < HEIGHT
    summary.locator("a").click()
    expect(error).to_be_in_viewport()
    fits(page)
    assert seeder.campaign_count() == 0


def test_a_past_time_on_the_schedule_card_is_said_next_to_it(
    sized: Page, server: LiveServer, seeder: Seeder
) -> None:
    page = sized
    token = admin(seeder)
    campaign_id = seeder.campaign("acme", "Draft", ["a@x.org"])
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    page.fill("#schedule-date", "2025-01-01")
    page.fill("#schedule-time", "14:00")
    page.select_option("#schedule-timezone", "Europe/Berlin")
    page.click("button[data-action=schedule]")
    expect(page.locator("#schedule-when-error")).to_have_text(
        "14:00 on 1 January 2025 (Europe/Berlin) is in the past; choose a later time."
    )
    expect(page.locator("#schedule-date")).to_have_value("2025-01-01")
    box = page.locator("#schedule-when-error").bounding_box()
    assert box and box["y"] < 2 * HEIGHT, "the problem is in the first screens"
    assert seeder.status(campaign_id) == "draft"


def top_of(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box, f"{selector} is not shown"
    return float(box["y"])


def test_the_campaign_page_puts_what_matters_first_on_a_phone(
    browser: object, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    people = [f"person{number}@example.org" for number in range(40)]
    campaign_id = seeder.campaign("acme", "A campaign with a long name for a phone", people)
    context, page = open_page(browser, PHONE)
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    first_screens = 2 * HEIGHT
    assert top_of(page, "button[data-action=schedule]") < HEIGHT
    assert top_of(page, "#eligibility") < HEIGHT
    assert top_of(page, "#message") < first_screens
    assert top_of(page, "button[data-action=execute]") < HEIGHT
    recipients = top_of(page, "#recipients")
    for card in ("#message", ".area-details", ".area-upload", ".area-runs", "#progress"):
        assert top_of(page, card) < recipients, f"{card} comes before the recipients"
    expect(page.locator("#recipients tbody tr")).to_have_count(25)
    fits(page)
    context.close()  # type: ignore[attr-defined]


def test_badges_sit_beside_their_labels_and_the_navigation_keeps_to_one_line(
    browser: object, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    seeder.campaign("acme", "Spring", ["a@x.org"])
    context, page = open_page(browser, PHONE)
    sign_in(page, server, token)
    label = page.locator("td[data-label=Status]").first
    badge = label.locator(".badge")
    label_box, badge_box = label.bounding_box(), badge.bounding_box()
    assert label_box and badge_box
    assert badge_box["x"] - label_box["x"] < 160, "the badge is next to its label"
    tops = {round(box["y"]) for box in _boxes(page, "nav.nav a")}
    assert len(tops) == 1, "the navigation is one line"
    for link in _boxes(page, "nav.nav a"):
        assert link["x"] + link["width"] <= PHONE, "every navigation link is on screen"
    context.close()  # type: ignore[attr-defined]


def _boxes(page: Page, selector: str) -> list[dict[str, float]]:
    boxes = []
    for index in range(page.locator(selector).count()):
        box = page.locator(selector).nth(index).bounding_box()
        assert box
        boxes.append(dict(box))
    return boxes


@pytest.mark.parametrize("width", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_admin_page_fits_without_sideways_scrolling(
    browser: object, server: LiveServer, seeder: Seeder, width: int
) -> None:
    token = admin(seeder)
    people = [f"someone.with.a.rather.long.address{number}@example.org" for number in range(30)]
    soon = datetime.now(ZoneInfo("UTC")) + timedelta(hours=2)
    draft = seeder.campaign("acme", "A draft with a long name that has to wrap", people)
    scheduled = seeder.campaign(
        "acme", "Scheduled", people, scheduled_for=soon, timezone="Pacific/Chatham"
    )
    sending = seeder.campaign("acme", "Sending", people)
    seeder.execute(sending)
    seeder.deliver_by_hand(sending, sent=10, finish=False)
    sent = seeder.campaign("acme", "Sent", people)
    seeder.execute(sent)
    seeder.deliver_by_hand(sent, hours=3, failed=2)
    context, page = open_page(browser, width)
    page.goto(f"{server.url}/admin/login")
    fits(page)
    sign_in(page, server, token)
    pages = [
        LIST,
        f"{LIST}/new",
        f"{LIST}/scheduled",
        f"{LIST}/{draft}",
        f"{LIST}/{draft}/edit",
        f"{LIST}/{scheduled}",
        f"{LIST}/{sending}",
        f"{LIST}/{sent}",
        f"{LIST}/999999",
        "/admin/marketing/suppressions",
        "/admin/marketing/dkim",
    ]
    for path in pages:
        page.goto(f"{server.url}{path}")
        fits(page)
    page.goto(f"{server.url}{LIST}/{draft}")
    page.set_input_files(
        "#recipients-file",
        files=[{"name": "more.csv", "mimeType": "text/csv", "buffer": CSV}],
    )
    page.click("button:has-text('Upload')")
    expect(page.locator("h1")).to_have_text("Import report")
    fits(page)
    context.close()  # type: ignore[attr-defined]
