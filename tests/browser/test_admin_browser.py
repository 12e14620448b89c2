"""The admin UI in a real Chromium: what a marketer does, start to finish."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TIME_ZONE
from tests.browser.server import LiveServer, Seeder

pytestmark = pytest.mark.browser

LIST = "/admin/marketing/campaigns"
CSV = b"email,first_name\nann@example.org,Ann\nbob@example.org,Bob\nnot-an-address,X\n"


def sign_in(page: Page, server: LiveServer, token: str) -> None:
    page.goto(f"{server.url}{LIST}")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    page.fill("#token", token)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{server.url}{LIST}")


def admin(seeder: Seeder) -> str:
    acme = seeder.organization("acme", "Acme")
    return seeder.token("organization_admin", acme, "dana")


def badge(page: Page) -> object:
    return page.locator(".title-with-badge .badge")


def test_create_from_csv_schedule_and_watch_it_go_out(
    page: Page, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    sign_in(page, server, token)
    expect(page.get_by_text("No campaigns yet — create one")).to_be_visible()
    page.click("nav >> text=New campaign")
    expect(page.locator("#timezone")).to_have_value(TIME_ZONE)

    page.fill("#name", "Browser launch")
    page.fill("#subject", "Hello {{ first_name }}")
    page.fill("#text_body", "Hi {{ first_name }}, we launched.")
    page.set_input_files(
        "#recipients", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    due = datetime.now(ZoneInfo(TIME_ZONE)).replace(microsecond=0) + timedelta(seconds=4)
    page.fill("#date", due.strftime("%Y-%m-%d"))
    # the form offers minutes; this test schedules a few seconds ahead
    page.eval_on_selector("#time", "element => element.step = 1")
    page.fill("#time", due.strftime("%H:%M:%S"))
    page.click("button:has-text('Create campaign')")

    expect(page.locator("h1")).to_have_text("Import report")
    expect(page.locator("[data-stat=added]")).to_have_text("2")
    expect(page.locator("[data-stat=invalid]")).to_have_text("1")
    expect(page.get_by_text("not-an-address")).to_be_visible()
    page.click("text=Continue to the campaign")
    expect(badge(page)).to_have_text("scheduled")

    time.sleep(max(0.0, (due - datetime.now(ZoneInfo(TIME_ZONE))).total_seconds()) + 0.3)
    seeder.drive_pipeline()
    expect(badge(page)).to_have_text("sent", timeout=15_000)
    expect(page.locator("#progress")).to_contain_text("100%")
    expect(page.locator(".chart svg rect")).not_to_have_count(0)
    runs = page.locator("section:has(h2:text('Runs')) tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("schedule")


def test_execute_now_asks_first(page: Page, server: LiveServer, seeder: Seeder) -> None:
    token = admin(seeder)
    later = datetime.now(ZoneInfo("UTC")) + timedelta(hours=2)
    campaign_id = seeder.campaign("acme", "Weekend guide", ["a@x.org"], scheduled_for=later)
    sign_in(page, server, token)
    page.click("nav >> text=Scheduled")
    row = page.locator(f"tr[data-campaign-id='{campaign_id}']")
    expect(row).to_contain_text("Weekend guide")

    messages: list[str] = []

    def dismiss(dialog: object) -> None:
        messages.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.once("dialog", dismiss)
    row.locator("button:has-text('Execute now')").click()
    assert messages and "Weekend guide" in messages[0]
    assert seeder.status(campaign_id) == "scheduled"

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Execute now')").click()
    expect(page.locator(".flash--success")).to_contain_text("“Weekend guide” is sending now")
    assert seeder.status(campaign_id) == "sending"
    expect(page.locator("#executions tbody tr").first).to_contain_text("manual")
    expect(page.locator("#executions tbody tr").first).to_contain_text("by token:dana")


def test_scheduled_page_refreshes_itself_every_30_seconds(
    page: Page, server: LiveServer, seeder: Seeder
) -> None:
    token = admin(seeder)
    soon = datetime.now(ZoneInfo("UTC")) + timedelta(hours=1)
    campaign_id = seeder.campaign("acme", "Flash sale", ["a@x.org", "b@x.org"], scheduled_for=soon)
    sign_in(page, server, token)
    page.clock.install()
    page.goto(f"{server.url}{LIST}/scheduled")
    expect(page.locator(f"tr[data-campaign-id='{campaign_id}']")).to_be_visible()
    expect(page.locator("#executions tbody tr")).to_have_count(0)
    page.evaluate("window.stillHere = true")

    run_id = seeder.execute(campaign_id)
    page.clock.fast_forward("00:31")
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_be_visible()
    expect(page.locator(f"tr[data-campaign-id='{campaign_id}']")).to_have_count(0)
    assert page.evaluate("window.stillHere") is True


def test_hostile_names_are_text(page: Page, server: LiveServer, seeder: Seeder) -> None:
    token = admin(seeder)
    names = ["<script>window.owned = 1</script>", '<img src=x onerror="window.owned = 2">']
    later = datetime.now(ZoneInfo("UTC")) + timedelta(hours=3)
    ids = [seeder.campaign("acme", name, ["a@x.org"], scheduled_for=later) for name in names]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, server, token)
    for name in names:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    page.goto(f"{server.url}{LIST}/{ids[1]}")
    expect(page.locator("[data-campaign-name]")).to_have_text(names[1])
    page.goto(f"{server.url}{LIST}/scheduled")
    expect(page.get_by_text(names[0], exact=True)).to_be_visible()
    assert page.evaluate("window.owned") is None
    assert dialogs == []


def test_a_forged_form_is_refused(page: Page, server: LiveServer, seeder: Seeder) -> None:
    token = admin(seeder)
    campaign_id = seeder.campaign("acme", "Guarded", ["a@x.org"])
    sign_in(page, server, token)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    page.eval_on_selector_all(
        "input[name=csrf_token]", "fields => fields.forEach(field => field.value = 'forged')"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=execute]")
    expect(page.locator("h1")).to_have_text("This form could not be accepted")
    assert seeder.status(campaign_id) == "draft"


def test_a_viewer_reads_but_cannot_act(page: Page, server: LiveServer, seeder: Seeder) -> None:
    acme = seeder.organization("acme", "Acme")
    viewer = seeder.token("viewer", acme, "auditor")
    campaign_id = seeder.campaign("acme", "Read me", ["a@x.org"])
    sign_in(page, server, viewer)
    expect(page.locator(".who__name")).to_have_text("auditor")
    expect(page.locator("nav >> text=New campaign")).to_have_count(0)
    page.goto(f"{server.url}{LIST}/{campaign_id}")
    expect(page.get_by_text("Read-only")).to_be_visible()
    expect(page.locator("[data-action]")).to_have_count(0)
    csrf = page.evaluate(
        "fetch('/admin/login').then(r => r.text())"
        '.then(t => t.match(/name="csrf_token" value="([^"]+)"/)[1])'
    )
    answer = page.request.post(
        f"{server.url}{LIST}/{campaign_id}/execute",
        form={"csrf_token": str(csrf)},
        max_redirects=0,
    )
    assert answer.status == 303
    page.reload()
    expect(page.locator(".flash--error")).to_have_text("Viewers can read but not change anything.")
    assert seeder.status(campaign_id) == "draft"


def test_the_list_fits_a_phone(browser: object, server: LiveServer, seeder: Seeder) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    token = admin(seeder)
    for number in range(3):
        seeder.campaign("acme", f"A rather long campaign name number {number}", ["a@x.org"])
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    sign_in(phone, server, token)
    expect(phone.locator("table thead")).to_be_hidden()
    expect(phone.locator("td[data-label=Status]").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
