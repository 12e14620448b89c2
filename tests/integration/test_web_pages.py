"""The admin UI over HTTP: sessions, CSRF, roles and organization scope, escaping, forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

import campaignd.web
from campaignd.actions import campaigns as actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.actions.errors import Conflict
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.domain.recipients import from_json
from campaignd.settings import Settings
from campaignd.store import organizations, tokens
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import (
    admin_sessions,
    api_tokens,
    audit_log,
    campaigns,
    deliveries,
    runs,
)
from campaignd.store.sessions import hash_session_id
from campaignd.wakeups import LocalWakeups

HOSTILE = "<script>alert(1)</script>"
LIST = "/admin/marketing/campaigns"


@dataclass
class World:
    services: Services
    platform_admin: str
    acme_admin: str
    acme_viewer: str
    globex_admin: str
    acme_admin_id: int

    @property
    def system(self) -> Principal:
        return Principal(actor="test", role=Role.PLATFORM_ADMIN)

    async def campaign(
        self,
        name: str = "Spring news",
        *,
        organization: str = "acme",
        emails: tuple[str, ...] = ("a@example.org", "b@example.org"),
        scheduled_for: datetime | None = None,
    ) -> int:
        view, _ = await actions.create_campaign(
            self.services,
            self.system,
            CampaignContent(name=name, subject="Hello", text_body="Hi {{ email }}"),
            organization=organization,
            recipient_list=from_json(list(emails)),
            scheduled_for=scheduled_for,
        )
        return int(view["id"])

    async def organization_id(self, slug: str = "acme") -> int:
        async with self.services.database.connection() as connection:
            row = await organizations.organization_by_slug(connection, slug)
        assert row is not None
        return int(row["id"])

    async def status(self, campaign_id: int) -> str:
        async with self.services.database.connection() as connection:
            value = await connection.scalar(
                select(campaigns.c.status).where(campaigns.c.id == campaign_id)
            )
        return str(value)


@pytest.fixture
async def world(database: Database, settings: Settings) -> World:
    async with database.transaction() as connection:
        acme = await organizations.create_organization(connection, slug="acme", name="Acme")
        globex = await organizations.create_organization(connection, slug="globex", name="Globex")
        _, platform_admin = await tokens.create_token(
            connection, role="platform_admin", organization_id=None, name="ops"
        )
        admin_row, acme_admin = await tokens.create_token(
            connection, role="organization_admin", organization_id=acme["id"], name="acme admin"
        )
        _, acme_viewer = await tokens.create_token(
            connection, role="viewer", organization_id=acme["id"], name="acme viewer"
        )
        _, globex_admin = await tokens.create_token(
            connection, role="organization_admin", organization_id=globex["id"], name="globex"
        )
    services = Services(database, settings, LocalWakeups())
    return World(
        services, platform_admin, acme_admin, acme_viewer, globex_admin, int(admin_row["id"])
    )


@pytest.fixture
def app(world: World) -> FastAPI:
    application = FastAPI()
    application.state.services = world.services
    campaignd.web.install(application)
    return application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def flashes_of(html: str) -> list[str]:
    return [
        text.strip() for text in re.findall(r'<div class="flash flash--\w+"[^>]*>([^<]*)', html)
    ]


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    """Sign in; returns the session's CSRF token."""
    page = await client.get("/admin/login")
    answer = await client.post(
        "/admin/login", data={"token": token, "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get(LIST)).text)


async def test_signed_out_pages_redirect_to_login(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{LIST}?status=draft")
    assert answer.status_code == 303
    assert (
        answer.headers["location"]
        == "/admin/login?next=/admin/marketing/campaigns%3Fstatus%3Ddraft"
    )
    assert (await client.get("/admin")).headers["location"] == LIST
    fragment = await client.get(f"{LIST}/scheduled/tables", headers={"HX-Request": "true"})
    assert (
        fragment.headers["HX-Redirect"]
        == "/admin/login?next=/admin/marketing/campaigns/scheduled/tables"
    )


async def test_login_sets_a_signed_httponly_cookie_and_logout_ends_it(
    client: httpx.AsyncClient, world: World
) -> None:
    page = await client.get("/admin/login")
    answer = await client.post(
        "/admin/login",
        data={
            "token": world.acme_admin,
            "csrf_token": csrf_of(page.text),
            "next": "/admin/marketing/campaigns/scheduled",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/marketing/campaigns/scheduled"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert world.acme_admin not in cookie and world.acme_admin[4:] not in cookie
    listing = await client.get(LIST)
    assert listing.status_code == 200
    assert "acme admin" in listing.text

    logout = await client.post("/admin/logout", data={"csrf_token": csrf_of(listing.text)})
    assert logout.status_code == 303 and logout.headers["location"] == "/admin/login"
    assert (await client.get(LIST)).status_code == 303
    assert "You are signed out." in (await client.get("/admin/login")).text


async def test_a_copied_session_cookie_is_dead_after_sign_out(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await world.campaign()
    csrf = await sign_in(client, world.acme_admin)
    copied = client.cookies.get("campaignd_session", path="/admin")
    assert copied and world.acme_admin not in copied
    async with world.services.database.connection() as connection:
        stored = list(await connection.scalars(select(admin_sessions.c.id_hash)))
    assert stored == [hash_session_id(copied)]

    logout = await client.post("/admin/logout", data={"csrf_token": csrf})
    assert logout.status_code == 303
    async with world.services.database.connection() as connection:
        assert list(await connection.scalars(select(admin_sessions.c.id_hash))) == []
        actions_logged = list(await connection.scalars(select(audit_log.c.action)))
    assert actions_logged[-2:] == ["session.start", "session.end"]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
        thief.cookies.set("campaignd_session", copied, path="/admin")
        page = await thief.get(LIST)
        assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
        assert 'campaignd_session=""' in page.headers["set-cookie"]
        thief.cookies.set("campaignd_session", copied, path="/admin")
        replayed = await thief.post(f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf})
        assert replayed.status_code == 303
        assert replayed.headers["location"].startswith("/admin/login")
        thief.cookies.set("campaignd_session", copied, path="/admin")
        refused = await thief.post(
            "/admin/login", data={"token": world.globex_admin, "csrf_token": csrf}
        )
        assert refused.status_code == 403
    assert await world.status(campaign_id) == "draft"


async def test_an_expired_session_asks_to_sign_in_again(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.acme_admin)
    async with world.services.database.transaction() as connection:
        await connection.execute(
            update(admin_sessions).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    answer = await client.get(LIST)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")


async def test_each_sign_in_is_its_own_session_with_its_own_csrf_token(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    first = await sign_in(client, world.acme_admin)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        second = await sign_in(other, world.acme_admin)
        assert first != second
        await other.post("/admin/logout", data={"csrf_token": second})
        assert (await other.get(LIST)).status_code == 303
    assert (await client.get(LIST)).status_code == 200


async def test_login_refuses_a_bad_token_and_an_open_redirect(
    client: httpx.AsyncClient, world: World
) -> None:
    page = await client.get("/admin/login")
    answer = await client.post(
        "/admin/login", data={"token": "cmp_wrong", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 401
    assert "That token is not valid or has been revoked." in answer.text
    answer = await client.post(
        "/admin/login",
        data={
            "token": world.acme_admin,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/",
        },
    )
    assert answer.headers["location"] == LIST


async def test_a_revoked_token_ends_its_session(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.acme_admin)
    async with world.services.database.transaction() as connection:
        await tokens.revoke_token(connection, world.acme_admin_id)
    answer = await client.get(LIST)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")
    assert "its token was revoked" in (await client.get("/admin/login")).text


async def test_posts_without_the_session_csrf_token_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    page = await client.get("/admin/login")
    refused = await client.post("/admin/login", data={"token": world.acme_admin})
    assert refused.status_code == 403
    assert "This form could not be accepted" in refused.text
    await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf_of(page.text)}):
        answer = await client.post(f"{LIST}/{campaign_id}/execute", data=data)
        assert answer.status_code == 403
        assert "Nothing was changed" in answer.text
    assert await world.status(campaign_id) == "draft"


async def test_a_viewer_sees_no_actions_and_is_refused_anyway(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await world.campaign()
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(f"{LIST}/{campaign_id}")
    assert page.status_code == 200
    assert "data-action=" not in page.text
    assert "Read-only" in page.text
    assert "New campaign" not in (await client.get(LIST)).text
    answer = await client.post(f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf})
    assert answer.status_code == 303
    after = await client.get(answer.headers["location"])
    assert flashes_of(after.text) == ["Viewers can read but not change anything."]
    assert await world.status(campaign_id) == "draft"
    new = await client.get(f"{LIST}/new")
    assert new.status_code == 303


async def test_another_organizations_campaign_is_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await world.campaign(organization="globex")
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(f"{LIST}/{campaign_id}")
    assert page.status_code == 404
    assert "not found" in page.text
    for path in ("", "/edit", "/progress"):
        assert (await client.get(f"{LIST}/{campaign_id}{path}")).status_code == 404
    answer = await client.post(f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf})
    assert answer.status_code == 404
    assert await world.status(campaign_id) == "draft"
    assert "Spring news" not in (await client.get(LIST)).text


async def test_hostile_names_are_shown_as_text(client: httpx.AsyncClient, world: World) -> None:
    soon = utcnow() + timedelta(hours=2)
    campaign_id = await world.campaign(HOSTILE, scheduled_for=soon)
    await world.campaign('"><img src=x onerror=alert(2)>')
    await sign_in(client, world.platform_admin)
    pages = [LIST, f"{LIST}/{campaign_id}", f"{LIST}/scheduled", f"{LIST}/{campaign_id}/edit"]
    for path in pages:
        html = (await client.get(path)).text
        assert "<script>alert(1)" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<img src=x" not in html, path


async def test_html_body_preview_is_sandboxed_and_escaped(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.platform_admin)
    view, _ = await actions.create_campaign(
        world.services,
        world.system,
        CampaignContent(
            name="Preview", subject="Hi", html_body='<p>x</p>"><script>alert(3)</script>'
        ),
        organization="acme",
    )
    html = (await client.get(f"{LIST}/{view['id']}")).text
    assert (
        '<iframe class="email-preview" sandbox srcdoc="&lt;p&gt;x&lt;/p&gt;&#34;&gt;&lt;script&gt;'
        in html
    )
    assert "<script>alert(3)" not in html
    assert "Content-Security-Policy" in (await client.get(LIST)).headers


async def test_admin_pages_load_nothing_remote_and_cannot_be_framed(
    client: httpx.AsyncClient, world: World
) -> None:
    """The preview's srcdoc inherits the page's policy: no remote image (tracking pixel),
    style, font, media or frame may load while an admin looks at a message."""
    for answer in (await client.get("/admin/login"), await client.get(LIST)):
        policy = dict(
            part.strip().split(" ", 1)
            for part in answer.headers["content-security-policy"].split(";")
        )
        assert policy["img-src"] == "'self' data:"
        assert policy["default-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        for directive in ("style-src", "font-src", "connect-src", "frame-src"):
            assert "http" not in policy[directive] and "*" not in policy[directive]
        assert answer.headers["x-frame-options"] == "DENY"


async def test_csv_upload_shows_the_import_report(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    csv = (
        "email,first_name\nann@example.org,Ann\nnot-an-address,X\n"
        "ANN@example.org,again\nbob@example.org,Bob\n"
    )
    answer = await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            "name": "Imported",
            "subject": "Hi {{ first_name }}",
            "text_body": "Hello",
        },
        files={"recipients": ("people.csv", csv.encode(), "text/csv")},
    )
    assert answer.status_code == 303
    assert re.fullmatch(rf"{LIST}/\d+/imports/\d+", answer.headers["location"])
    html = (await client.get(answer.headers["location"])).text
    assert re.search(r'data-stat="added">2<', html)
    assert re.search(r'data-stat="duplicates">1<', html)
    assert re.search(r'data-stat="invalid">1<', html)
    assert "not-an-address" in html and '<td class="num" data-label="Row">3</td>' in html
    assert "people.csv" in html
    assert "Campaign “Imported” saved as a draft." in flashes_of(html)

    campaign_id = int(re.findall(r'href="/admin/marketing/campaigns/(\d+)"', html)[0])
    more = await client.post(
        f"{LIST}/{campaign_id}/recipients",
        data={"csrf_token": csrf},
        files={
            "recipients": ("more.csv", b"email\ncid@example.org\nbob@example.org\n", "text/csv")
        },
    )
    assert more.status_code == 303
    more_html = (await client.get(more.headers["location"])).text
    assert re.search(r'data-stat="added">1<', more_html)
    assert "The campaign now has 3 recipients" in more_html
    broken = await client.post(
        f"{LIST}/{campaign_id}/recipients",
        data={"csrf_token": csrf},
        files={"recipients": ("bad.csv", b"name\nAnn\n", "text/csv")},
    )
    assert broken.status_code == 422
    assert 'aria-describedby="recipients-file-error"' in broken.text
    problem = (
        "No &#34;email&#34; column: the header is &#34;name&#34;; name the column that holds "
        "the addresses &#34;email&#34;."
    )
    assert re.search(rf'id="recipients-file-error"[^>]*>{problem}<', broken.text)


async def test_a_csv_header_problem_is_said_beside_the_file_field(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    fields = {"csrf_token": csrf, "name": "Semicolons", "subject": "Hi", "text_body": "Hello"}
    export = "\ufeffE-Mail;Vorname\r\nann@example.org;Ann\r\n".encode()
    refused = await client.post(
        f"{LIST}/new", data=fields, files={"recipients": ("export.csv", export, "text/csv")}
    )
    assert refused.status_code == 422
    assert 'aria-describedby="recipients-error"' in refused.text
    problem = (
        "No &#34;email&#34; column: the header is &#34;E-Mail; Vorname&#34; (separated by "
        "&#34;;&#34;); rename &#34;E-Mail&#34; to &#34;email&#34;."
    )
    assert re.search(rf'id="recipients-error"[^>]*>{re.escape(problem)}<', refused.text)
    async with world.services.database.connection() as connection:
        names = (await connection.scalars(select(campaigns.c.name))).all()
    assert "Semicolons" not in names

    renamed = export.replace(b"E-Mail", b"Email")
    answer = await client.post(
        f"{LIST}/new", data=fields, files={"recipients": ("export.csv", renamed, "text/csv")}
    )
    assert answer.status_code == 303
    html = (await client.get(answer.headers["location"])).text
    assert re.search(r'data-stat="added">1<', html)
    async with world.services.database.connection() as connection:
        variables = await connection.scalar(
            select(deliveries.c.variables).where(deliveries.c.email == "ann@example.org")
        )
    assert variables == {"vorname": "Ann"}


async def test_create_converts_the_chosen_zone_to_utc(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.platform_admin)
    year = utcnow().year + 1
    answer = await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            "name": "Summer",
            "subject": "Hi",
            "text_body": "Hello",
            "organization": "acme",
            "date": f"{year}-07-01",
            "time": "09:30",
            "timezone": "America/New_York",
        },
    )
    assert answer.status_code == 303
    campaign = await actions.get_campaign(
        world.services, world.system, int(answer.headers["location"].rsplit("/", 1)[1])
    )
    assert campaign["status"] == "scheduled"
    assert campaign["scheduled_for"] == datetime(year, 7, 1, 13, 30, tzinfo=UTC)


async def test_a_form_problem_keeps_what_was_typed(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    answer = await client.post(
        f"{LIST}/new",
        data={"csrf_token": csrf, "name": "Kept <b>", "subject": "", "text_body": "Body"},
    )
    assert answer.status_code == 422
    assert "Write the subject." in answer.text
    assert 'aria-describedby="subject-error"' in answer.text
    assert 'value="Kept &lt;b&gt;"' in answer.text
    past = await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            "name": "Past",
            "subject": "S",
            "text_body": "B",
            "date": "2001-01-01",
            "time": "10:00",
            "timezone": "UTC",
        },
    )
    assert past.status_code == 422 and "is in the past" in past.text


async def schedule_audit(world: World, campaign_id: int) -> list[str]:
    async with world.services.database.connection() as connection:
        rows = await connection.scalars(
            select(audit_log.c.action).where(audit_log.c.target == str(campaign_id))
        )
        return [str(action) for action in rows if action != "campaign.create"]


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin ", " Europe/Berlin", "Europe/Berlin/", "Mars/Base"]
)
async def test_a_bad_zone_on_the_schedule_form_is_a_form_error_and_saves_nothing(
    client: httpx.AsyncClient, world: World, zone: str
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    tomorrow = utcnow() + timedelta(days=1)
    data = {"csrf_token": csrf, "date": f"{tomorrow:%Y-%m-%d}", "time": "09:00"}
    answer = await client.post(f"{LIST}/{campaign_id}/schedule", data={**data, "timezone": zone})
    assert answer.status_code == 422
    assert "Not scheduled:" in answer.text and "is not a time zone we know" in answer.text
    assert f'value="{tomorrow:%Y-%m-%d}"' in answer.text  # what was typed is kept
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["status"], campaign["scheduled_for"]) == ("draft", None)
    assert await schedule_audit(world, campaign_id) == []

    past = await client.post(
        f"{LIST}/{campaign_id}/schedule", data={**data, "date": "2001-01-01", "timezone": "UTC"}
    )
    assert past.status_code == 422 and "is in the past" in past.text
    assert await world.status(campaign_id) == "draft"

    good = await client.post(
        f"{LIST}/{campaign_id}/schedule", data={**data, "timezone": "Europe/Berlin"}
    )
    assert good.status_code == 303
    shown = flashes_of((await client.get(good.headers["location"])).text)
    assert shown and shown[0].endswith("09:00 (Europe/Berlin).")
    assert await schedule_audit(world, campaign_id) == ["campaign.schedule"]


async def test_the_create_and_edit_forms_refuse_a_bad_zone_before_writing(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    tomorrow = utcnow() + timedelta(days=1)
    form = {
        "csrf_token": csrf,
        "name": "Renamed",
        "subject": "Hello",
        "text_body": "Hi",
        "date": f"{tomorrow:%Y-%m-%d}",
        "time": "09:00",
        "timezone": "Europe/Berlin ",
    }
    csv = {"recipients": ("more.csv", b"email\nnew@example.org\n", "text/csv")}
    edit = await client.post(f"{LIST}/{campaign_id}/edit", data=form, files=csv)
    assert edit.status_code == 422 and "is not a time zone we know" in edit.text
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["name"], campaign["status"], campaign["recipient_count"]) == (
        "Spring news",
        "draft",
        2,
    )
    created = await client.post(f"{LIST}/new", data={**form, "name": "Fresh"})
    assert created.status_code == 422 and "is not a time zone we know" in created.text
    assert "Fresh" not in (await client.get(LIST)).text
    assert await schedule_audit(world, campaign_id) == []


async def test_a_form_holding_the_nul_character_is_refused_naming_the_field(
    client: httpx.AsyncClient, world: World
) -> None:
    """PostgreSQL stores no U+0000: a form (multipart, as a browser sends one with a file
    field) holding it was a server error there. Now a page names the field; nothing changes."""
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    form = {"csrf_token": csrf, "name": "Spring\x00news", "subject": "Hello", "text_body": "Hi"}
    csv = {"recipients": ("more.csv", b"email\nnew@example.org\n", "text/csv")}
    edit = await client.post(f"{LIST}/{campaign_id}/edit", data=form, files=csv)
    assert edit.status_code == 422, edit.text
    assert "The field name holds the NUL character (\\u0000)" in edit.text
    created = await client.post(f"{LIST}/new", data={**form, "name": "Fresh\x00"})
    assert created.status_code == 422 and "The field name holds" in created.text
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["name"], campaign["recipient_count"]) == ("Spring news", 2)
    assert "Fresh" not in (await client.get(LIST)).text


async def test_an_edit_is_saved_whole_or_not_at_all(world: World) -> None:
    """Content, recipients and the schedule go in one transaction: a refused last step
    (here: unscheduling a draft) leaves the content and the recipients as they were."""
    campaign_id = await world.campaign()
    revision = actions.Revision(
        changes={"name": "Renamed"},
        recipient_list=from_json(["new@example.org"]),
        unschedule=True,
    )
    with pytest.raises(Conflict):
        await actions.revise_campaign(world.services, world.system, campaign_id, revision)
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["name"], campaign["recipient_count"]) == ("Spring news", 2)
    assert await schedule_audit(world, campaign_id) == []


async def test_buttons_follow_the_lifecycle(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()

    async def offered() -> set[str]:
        html = (await client.get(f"{LIST}/{campaign_id}")).text
        return set(re.findall(r'data-action="(\w+)"', html))

    assert await offered() == {"execute", "delete", "schedule", "clone"}
    tomorrow = utcnow() + timedelta(days=1)
    answer = await client.post(
        f"{LIST}/{campaign_id}/schedule",
        data={
            "csrf_token": csrf,
            "date": f"{tomorrow:%Y-%m-%d}",
            "time": f"{tomorrow:%H:%M}",
            "timezone": "UTC",
        },
    )
    assert answer.status_code == 303
    assert await offered() == {"execute", "unschedule", "cancel", "schedule", "clone"}
    await client.post(f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf})
    assert await world.status(campaign_id) == "sending"
    assert await offered() == {"pause", "cancel", "clone"}
    await client.post(f"{LIST}/{campaign_id}/pause", data={"csrf_token": csrf})
    assert await offered() == {"resume", "cancel", "clone"}
    await client.post(f"{LIST}/{campaign_id}/cancel", data={"csrf_token": csrf})
    assert await offered() == {"clone"}


async def test_clone_opens_the_new_draft(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    answer = await client.post(f"{LIST}/{campaign_id}/clone", data={"csrf_token": csrf})
    assert answer.status_code == 303
    copy_url = answer.headers["location"]
    assert copy_url != f"{LIST}/{campaign_id}"
    page = await client.get(copy_url)
    assert flashes_of(page.text)[0].startswith("“")
    assert "(copy)” is a new draft with" in flashes_of(page.text)[0]
    assert await world.status(int(copy_url.rsplit("/", 1)[1])) == "draft"


async def test_a_refused_action_is_a_flash_message(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    answer = await client.post(f"{LIST}/{campaign_id}/pause", data={"csrf_token": csrf})
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert flashes_of(page.text) == [
        "Cannot pause a campaign that is draft; allowed only when sending."
    ]


async def test_execute_now_from_the_scheduled_page(client: httpx.AsyncClient, world: World) -> None:
    campaign_id = await world.campaign("Soon", scheduled_for=utcnow() + timedelta(hours=1))
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(f"{LIST}/scheduled")
    assert f'data-campaign-id="{campaign_id}"' in page.text
    assert 'hx-trigger="every 30s"' in page.text
    answer = await client.post(
        f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf, "return_to": "scheduled"}
    )
    assert answer.headers["location"] == f"{LIST}/scheduled"
    page = await client.get(f"{LIST}/scheduled")
    assert "“Soon” is sending now" in flashes_of(page.text)[0]
    assert f'data-campaign-id="{campaign_id}"' not in page.text
    async with world.services.database.connection() as connection:
        run_id = await connection.scalar(select(runs.c.id).where(runs.c.campaign_id == campaign_id))
    assert f'data-run-id="{run_id}"' in page.text
    assert "by token:acme admin" in page.text
    tables = await client.get(f"{LIST}/scheduled/tables")
    assert tables.text.lstrip().startswith('<div id="scheduled-tables"')
    assert "<html" not in tables.text


async def test_progress_fragment_polls_while_sending_and_reloads_on_change(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign()
    await client.post(f"{LIST}/{campaign_id}/execute", data={"csrf_token": csrf})
    fragment = await client.get(f"{LIST}/{campaign_id}/progress?shown=sending")
    assert 'hx-trigger="every 2s"' in fragment.text
    assert "HX-Refresh" not in fragment.headers
    async with world.services.database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status="sent")
        )
    fragment = await client.get(f"{LIST}/{campaign_id}/progress?shown=sending")
    assert fragment.headers["HX-Refresh"] == "true"
    assert "hx-trigger" not in fragment.text


async def test_list_filters_by_status_and_pages(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.acme_admin)
    empty = await client.get(LIST)
    assert "No campaigns yet — create one" in empty.text
    for number in range(27):
        await world.campaign(f"Campaign {number:02d}")
    first = await client.get(LIST)
    assert "Campaign 26" in first.text and "Campaign 01" not in first.text
    older = re.search(r'href="(/admin/marketing/campaigns\?cursor=\d+)"', first.text)
    assert older
    second = await client.get(older.group(1))
    assert "Campaign 01" in second.text and "Campaign 26" not in second.text
    scheduled = await client.get(f"{LIST}?status=scheduled")
    assert "No scheduled campaigns" in scheduled.text


async def test_edit_saves_content_and_clearing_the_date_unschedules(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    campaign_id = await world.campaign(scheduled_for=utcnow() + timedelta(hours=5))
    form = await client.get(f"{LIST}/{campaign_id}/edit")
    assert 'data-chosen="UTC"' in form.text  # scheduled without a zone: shown in UTC
    answer = await client.post(
        f"{LIST}/{campaign_id}/edit",
        data={"csrf_token": csrf, "name": "Renamed", "subject": "New subject", "text_body": "Hi"},
    )
    assert answer.status_code == 303
    campaign = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (campaign["name"], campaign["subject"], campaign["status"]) == (
        "Renamed",
        "New subject",
        "draft",
    )


async def test_sessions_are_signed(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.acme_admin)
    async with world.services.database.connection() as connection:
        token_ids = list(await connection.scalars(select(api_tokens.c.id)))
    client.cookies.set("campaignd_session", "eyJ0IjogMX0.forged.signature", path="/admin")
    assert (await client.get(LIST)).status_code == 303
    assert token_ids


async def test_a_template_over_the_limits_is_a_form_error(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    nested = "{% for i in range(9000) %}{% for j in range(9000) %}x{% endfor %}{% endfor %}"
    answer = await client.post(
        f"{LIST}/new",
        data={"csrf_token": csrf, "name": "Loops", "subject": "S", "text_body": nested},
    )
    assert answer.status_code == 422
    assert "This template goes over the limit of 100000 loop iterations" in answer.text
    async with world.services.database.connection() as connection:
        assert await connection.scalar(select(campaigns.c.id)) is None
