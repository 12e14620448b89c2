"""What a new user tripped over: reloading after a form, the zone a campaign was scheduled
in, form problems in the form's words, the import report, and raw templates in the list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from campaignd.actions import campaigns as actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.actions.suppressions import add_suppressions
from campaignd.api.models import Campaign
from campaignd.domain.recipients import from_json
from campaignd.store.columns import utcnow
from campaignd.store.schema import campaigns, deliveries, import_reports
from campaignd.web import routes
from tests.integration.test_web_pages import HOSTILE, LIST, World, csrf_of, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

CSV = b"email,first_name\nann@example.org,Ann\nbob@example.org,Bob\nnot-an-address,X\n"


def csv_file(name: str = "people.csv", data: bytes = CSV) -> dict[str, Any]:
    return {"recipients": (name, data, "text/csv")}


def content(**fields: str) -> dict[str, str]:
    return {"name": "Launch", "subject": "Hello {{ first_name }}", "text_body": "Hi"} | fields


async def count(world: World, table: Any) -> int:
    async with world.services.database.connection() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


def next_year() -> int:
    return utcnow().year + 1


def admin_forms() -> set[str]:
    """The path of every form the admin pages accept (POST routes)."""
    modules = (routes.login, routes.scheduled, routes.campaigns, routes.detail, routes.suppressions)
    return {
        route.path
        for module in modules
        for route in module.router.routes
        if "POST" in getattr(route, "methods", ())
    }


async def test_every_admin_form_answers_a_success_with_a_redirect(
    client: httpx.AsyncClient, world: World
) -> None:
    """Post/Redirect/Get: reloading the page after any form repeats nothing."""
    posted: set[str] = set()

    async def post(path: str, route: str, **options: Any) -> httpx.Response:
        answer = await client.post(path, **options)
        assert answer.status_code == 303, (path, answer.status_code, answer.text[:300])
        assert answer.headers["location"].startswith("/admin"), path
        posted.add(route)
        return answer

    login = await client.get("/admin/login")
    await post(
        "/admin/login",
        "/admin/login",
        data={"token": world.acme_admin, "csrf_token": csrf_of(login.text)},
    )
    csrf = csrf_of((await client.get(LIST)).text)
    new = f"{LIST}/new"
    await post(new, new, data={"csrf_token": csrf, **content()})
    imported = await post(new, new, data={"csrf_token": csrf, **content()}, files=csv_file())
    campaign_id = int(imported.headers["location"].split("/")[4])
    one = f"{LIST}/{{campaign_id:int}}"
    base = f"{LIST}/{campaign_id}"
    await post(f"{base}/edit", f"{one}/edit", data={"csrf_token": csrf, **content(name="B")})
    await post(
        f"{base}/edit",
        f"{one}/edit",
        data={"csrf_token": csrf, **content(name="C")},
        files=csv_file("more.csv", b"email\ncid@example.org\n"),
    )
    await post(
        f"{base}/recipients",
        f"{one}/recipients",
        data={"csrf_token": csrf},
        files=csv_file("again.csv", b"email\ndee@example.org\n"),
    )
    when = {"date": f"{next_year()}-06-01", "time": "09:00", "timezone": "Europe/Berlin"}
    await post(f"{base}/schedule", f"{one}/{{action}}", data={"csrf_token": csrf, **when})
    for action in ("unschedule", "execute", "pause", "resume", "cancel"):
        await post(f"{base}/{action}", f"{one}/{{action}}", data={"csrf_token": csrf})
    draft = await world.campaign("To delete")
    await post(f"{LIST}/{draft}/delete", f"{one}/{{action}}", data={"csrf_token": csrf})
    suppressions = "/admin/marketing/suppressions"
    address = {"csrf_token": csrf, "email": "gone@example.org"}
    await post(f"{suppressions}/add", f"{suppressions}/add", data={**address, "reason": "manual"})
    await post(f"{suppressions}/remove", f"{suppressions}/remove", data=address)
    await post(
        f"{suppressions}/import",
        f"{suppressions}/import",
        data={"csrf_token": csrf, "reason": "bounced"},
        files={"file": ("old-esp.csv", b"email\nbounce@example.org\n", "text/csv")},
    )
    await post("/admin/logout", "/admin/logout", data={"csrf_token": csrf})

    assert admin_forms() == posted


async def test_reloading_the_import_report_imports_nothing(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    answer = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content()}, files=csv_file()
    )
    report_url = answer.headers["location"]
    first = await client.get(report_url)
    again = await client.get(report_url)
    assert first.status_code == again.status_code == 200
    assert "Campaign “Launch” saved as a draft." in flashes_of(first.text)
    assert flashes_of(again.text) == []
    for page in (first.text, again.text):
        assert re.search(r'data-stat="added">2<', page)
        assert re.search(r'data-stat="invalid">1<', page)
        assert "not-an-address" in page
    assert await count(world, campaigns) == 1
    assert await count(world, deliveries) == 2
    assert await count(world, import_reports) == 1

    campaign_id = int(report_url.split("/")[4])
    other = await world.campaign("Other")
    assert (await client.get(report_url.replace(f"/{campaign_id}/", f"/{other}/"))).status_code == (
        404
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as globex:
        await sign_in(globex, world.globex_admin)
        assert (await globex.get(report_url)).status_code == 404


async def test_the_import_report_says_when_it_goes_out_and_who_is_eligible_now(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    await add_suppressions(world.services, world.system, ["bob@example.org"], organization="acme")
    when = {"date": f"{next_year()}-06-01", "time": "09:00", "timezone": "Europe/Berlin"}
    answer = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content(), **when}, files=csv_file()
    )
    page = (await client.get(answer.headers["location"])).text
    goes_out = re.search(r"data-goes-out>(.*?)</dd>", page, re.DOTALL)
    assert goes_out and f"09:00 ({'Europe/Berlin'})" in goes_out.group(1)
    assert 'data-zone="Europe/Berlin"' in goes_out.group(1)
    eligible = re.search(r"data-eligible-now>(.*?)</dd>", page, re.DOTALL)
    assert eligible and "<strong>1</strong> of 2" in eligible.group(1)
    assert "1 left out by the cooldown or the suppression list" in eligible.group(1)

    draft = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content(name="Draft")}, files=csv_file()
    )
    page = (await client.get(draft.headers["location"])).text
    assert re.search(r"data-goes-out>\s*not scheduled yet", page)


async def test_a_campaign_keeps_and_shows_the_zone_it_was_scheduled_in(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    year = next_year()
    answer = await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            **content(),
            "date": f"{year}-01-15",
            "time": "09:00",
            "timezone": "Europe/Berlin",
        },
    )
    campaign_id = int(answer.headers["location"].rsplit("/", 1)[1])
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert campaign["timezone"] == "Europe/Berlin"
    assert campaign["scheduled_for"] == datetime(year, 1, 15, 8, 0, tzinfo=UTC)
    assert Campaign.model_validate(campaign).model_dump(by_alias=True)["timezone"] == (
        "Europe/Berlin"
    )

    detail = (await client.get(f"{LIST}/{campaign_id}")).text
    assert f"15 Jan {year}, 09:00 (Europe/Berlin)" in detail
    assert 'data-zone="Europe/Berlin"' in detail
    assert 'id="schedule-time" name="time" step="60" value="09:00"' in detail
    assert 'id="schedule-timezone" data-zone-picker data-chosen="Europe/Berlin"' in detail
    edit = (await client.get(f"{LIST}/{campaign_id}/edit")).text
    assert f'value="{year}-01-15"' in edit and 'value="09:00"' in edit
    assert 'data-chosen="Europe/Berlin"' in edit
    listing = (await client.get(LIST)).text
    assert f"15 Jan {year}, 09:00 (Europe/Berlin)" in listing

    moved = await client.post(
        f"{LIST}/{campaign_id}/schedule",
        data={
            "csrf_token": csrf,
            "date": f"{year}-01-15",
            "time": "09:00",
            "timezone": "Asia/Tokyo",
        },
    )
    assert moved.status_code == 303
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["timezone"], campaign["scheduled_for"]) == (
        "Asia/Tokyo",
        datetime(year, 1, 15, 0, 0, tzinfo=UTC),
    )
    # saving the edit form unchanged keeps the time and the zone
    same = await client.post(
        f"{LIST}/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            **content(name="Renamed"),
            "date": f"{year}-01-15",
            "time": "09:00",
            "timezone": "Asia/Tokyo",
        },
    )
    assert same.status_code == 303
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["name"], campaign["timezone"]) == ("Renamed", "Asia/Tokyo")

    # scheduled with an offset only (as the API does): no zone is known, it is shown in UTC
    await actions.schedule(
        world.services, world.system, campaign_id, datetime(year, 2, 1, 9, 0, tzinfo=UTC)
    )
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert campaign["timezone"] is None
    detail = (await client.get(f"{LIST}/{campaign_id}")).text
    assert f"1 Feb {year}, 09:00 (UTC)" in detail


async def test_the_scheduled_page_shows_each_campaign_in_its_zone(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    soon = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo("America/New_York"))
    await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            **content(),
            "date": f"{soon:%Y-%m-%d}",
            "time": f"{soon:%H:%M}",
            "timezone": "America/New_York",
        },
    )
    page = (await client.get(f"{LIST}/scheduled")).text
    assert 'data-zone="America/New_York"' in page
    assert f"{soon:%H:%M} (America/New_York)" in page


async def test_a_time_in_the_past_is_said_as_it_was_typed_next_to_the_field(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    typed = {"date": "2025-01-01", "time": "14:00", "timezone": "Europe/Berlin"}
    answer = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content(), **typed}, files=csv_file()
    )
    assert answer.status_code == 422
    page = answer.text
    message = "14:00 on 1 January 2025 (Europe/Berlin) is in the past; choose a later time."
    assert re.search(rf'<p class="field-error" id="when-error"[^>]*>{re.escape(message)}</p>', page)
    assert "scheduledFor" not in page and "+00:00" not in page
    assert re.search(r'id="date" name="date" value="2025-01-01" aria-invalid="true"', page)
    assert 'aria-describedby="when-error"' in page
    assert 'value="14:00"' in page and 'data-chosen="Europe/Berlin"' in page
    assert '<a href="#date">Date and time</a>' in page  # the summary points at the field
    assert 'Choose <span class="filename">people.csv</span> again' in page
    assert await count(world, campaigns) == 0

    campaign_id = await world.campaign()
    scheduled = await client.post(
        f"{LIST}/{campaign_id}/schedule", data={"csrf_token": csrf, **typed}
    )
    assert scheduled.status_code == 422
    assert re.search(rf'id="schedule-when-error"[^>]*>{re.escape(message)}</p>', scheduled.text)
    assert 'id="schedule-date" name="date" value="2025-01-01"' in scheduled.text
    assert await world.status(campaign_id) == "draft"


async def test_content_problems_sit_next_to_their_field(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    broken = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content(subject="Hi {{ first_name")}
    )
    assert broken.status_code == 422
    assert re.search(
        r'id="subject-error"[^>]*>This template cannot be used: [^<]+</p>', broken.text
    )
    assert 'value="Hi {{ first_name"' in broken.text
    bodiless = await client.post(f"{LIST}/new", data={"csrf_token": csrf, **content(text_body="")})
    assert re.search(
        r'id="text_body-error"[^>]*>Write a plain-text body, an HTML body, or both.</p>',
        bodiless.text,
    )
    sender = await client.post(
        f"{LIST}/new", data={"csrf_token": csrf, **content(from_address="not an address")}
    )
    assert 'aria-describedby="from_address-error"' in sender.text
    assert 'value="not an address"' in sender.text


async def test_the_list_shows_a_sample_of_the_subject_not_the_template(
    client: httpx.AsyncClient, world: World
) -> None:
    async def create(subject: str, people: list[Any]) -> None:
        await actions.create_campaign(
            world.services,
            world.system,
            CampaignContent(name=f"Campaign {subject[:10]}", subject=subject, text_body="Hi"),
            organization="acme",
            recipient_list=from_json(people) if people else None,
        )

    await create("Hello {{ first_name }}", [{"email": "ann@x.org", "vars": {"first_name": "Ann"}}])
    await create("Hello {{ first_name | title }}, news", [])
    await create("Hi {{ name }}", [{"email": "eve@x.org", "vars": {"name": HOSTILE}}])
    await create(
        "{{ 10 // (share | default(1)) }} offers", [{"email": "zed@x.org", "vars": {"share": 0}}]
    )
    await sign_in(client, world.acme_admin)
    page = (await client.get(LIST)).text
    placeholder_or_text = r'(?:[^<]|<span class="placeholder">[^<]*</span>)*'
    samples = re.findall(rf"data-subject-sample[^>]*>({placeholder_or_text})</span>", page)
    assert len(samples) == 4, samples
    shown = dict(zip(["division", "hostile", "placeholder", "rendered"], samples, strict=True))
    assert shown["rendered"] == "Hello Ann"
    assert shown["placeholder"] == 'Hello <span class="placeholder">first_name</span>, news'
    assert shown["hostile"] == "Hi &lt;script&gt;alert(1)&lt;/script&gt;"
    assert shown["division"] == (
        '<span class="placeholder">10 // (share | default(1))</span> offers'
    )
    assert "{{" not in "".join(samples)
