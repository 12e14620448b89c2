"""The suppression list page: list, add, look up and remove, with roles, scope and CSRF."""

from __future__ import annotations

import re

import httpx

from campaignd.actions import suppressions as actions
from campaignd.store import tokens
from tests.integration.test_web_pages import HOSTILE, World, csrf_of, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/suppressions"


async def suppressed(world: World, organization: str = "acme") -> dict[str, str]:
    _, rows, _ = await actions.list_suppressions(
        world.services, world.system, organization=organization, limit=1000
    )
    return {str(row["email"]): str(row["reason"]) for row in rows}


async def suppress(world: World, emails: list[str], organization: str, reason: str) -> None:
    await actions.add_suppressions(
        world.services, world.system, emails, reason=reason, organization=organization
    )


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-email="([^"]+)"', html)


async def test_add_shows_it_listed_and_remove_takes_it_off(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert "Nobody is suppressed yet" in page.text
    assert 'href="/admin/marketing/suppressions" aria-current="page"' in page.text

    added = await client.post(
        f"{PAGE}/add", data={"csrf_token": csrf, "email": " Ann@Example.ORG ", "reason": "manual"}
    )
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert "ann@example.org is suppressed (manual): it will not be mailed." in flashes_of(page.text)
    assert listed(page.text) == ["ann@example.org"]
    row = page.text.split('<tr data-email="ann@example.org">')[1].split("</tr>")[0]
    assert '<span class="code-tag">manual</span>' in row
    assert "added by token:acme admin" in row
    assert "<time datetime=" in row
    assert await suppressed(world) == {"ann@example.org": "manual"}

    again = await client.post(
        f"{PAGE}/add", data={"csrf_token": csrf, "email": "ann@example.org", "reason": "bounced"}
    )
    page = await client.get(again.headers["location"])
    assert "ann@example.org was already suppressed; its reason stays as it was." in flashes_of(
        page.text
    )
    assert await suppressed(world) == {"ann@example.org": "manual"}

    removed = await client.post(
        f"{PAGE}/remove", data={"csrf_token": csrf, "email": "ann@example.org"}
    )
    page = await client.get(removed.headers["location"])
    assert "ann@example.org is off the suppression list and can be mailed again." in flashes_of(
        page.text
    )
    assert listed(page.text) == []
    assert await suppressed(world) == {}


async def test_remove_asks_for_confirmation_first(client: httpx.AsyncClient, world: World) -> None:
    await suppress(world, ["bob@example.org"], "acme", "bounced")
    await sign_in(client, world.acme_admin)
    html = (await client.get(PAGE)).text
    form = re.search(
        r'<form method="post" action="/admin/marketing/suppressions/remove"[^>]*>', html
    )
    assert form is not None
    assert 'data-confirm="Remove bob@example.org from the suppression list?' in form.group(0)


async def test_bad_input_is_named_and_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    cases = {
        ("not-an-address", "manual"): "Email: &#39;not-an-address&#39; is not a valid address",
        ("carl@example.org", "spam"): "Reason: &#39;spam&#39; is not a reason (one of manual, ",
        ("", "manual"): "Email: enter the address to suppress.",
        ("dora@example.org", ""): "Reason: choose a reason (one of manual, ",
    }
    for (email, reason), message in cases.items():
        answer = await client.post(
            f"{PAGE}/add", data={"csrf_token": csrf, "email": email, "reason": reason}
        )
        assert answer.status_code == 422, (email, reason)
        assert message in answer.text, (email, reason)
        assert f'name="email" type="email" required value="{email}"' in answer.text
    empty = await client.post(f"{PAGE}/add", data={"csrf_token": csrf})
    assert empty.status_code == 422
    assert "Email: enter the address to suppress." in empty.text
    bad_remove = await client.post(f"{PAGE}/remove", data={"csrf_token": csrf, "email": "x@"})
    page = await client.get(bad_remove.headers["location"])
    assert any("is not a valid address" in text for text in flashes_of(page.text))
    assert await suppressed(world) == {}


async def test_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    await suppress(world, ["bob@example.org"], "acme", "manual")
    await sign_in(client, world.acme_admin)
    for path, data in (
        ("add", {"email": "eve@example.org", "reason": "manual"}),
        ("remove", {"email": "bob@example.org"}),
    ):
        answer = await client.post(f"{PAGE}/{path}", data={**data, "csrf_token": "forged"})
        assert answer.status_code == 403
        assert "This form could not be accepted" in answer.text
    assert await suppressed(world) == {"bob@example.org": "manual"}


async def test_a_viewer_reads_but_cannot_change(client: httpx.AsyncClient, world: World) -> None:
    await suppress(world, ["bob@example.org"], "acme", "complained")
    csrf = await sign_in(client, world.acme_viewer)
    html = (await client.get(PAGE)).text
    assert listed(html) == ["bob@example.org"]
    assert "Read-only" in html
    assert "/admin/marketing/suppressions/add" not in html
    assert "/admin/marketing/suppressions/remove" not in html
    for path, data in (
        ("add", {"email": "eve@example.org", "reason": "manual"}),
        ("remove", {"email": "bob@example.org"}),
    ):
        answer = await client.post(f"{PAGE}/{path}", data={**data, "csrf_token": csrf})
        assert answer.status_code == 303
        page = await client.get(answer.headers["location"])
        assert flashes_of(page.text) == [
            "You have read-only access: viewers can look but not change anything."
        ]
    assert await suppressed(world) == {"bob@example.org": "complained"}


async def test_another_organizations_list_is_never_shown_or_changed(
    client: httpx.AsyncClient, world: World
) -> None:
    await suppress(world, ["secret@globex.example"], "globex", "manual")
    await suppress(world, ["mine@acme.example"], "acme", "manual")
    csrf = await sign_in(client, world.acme_admin)
    own = (await client.get(PAGE)).text
    assert listed(own) == ["mine@acme.example"]
    assert "secret@globex.example" not in own

    other = await client.get(f"{PAGE}?organization=globex")
    assert "secret@globex.example" not in other.text
    assert "Organization: you belong to &#39;acme&#39;, not &#39;globex&#39;." in other.text
    lookup = await client.get(f"{PAGE}?organization=globex&address=secret@globex.example")
    assert "is suppressed" not in lookup.text

    answer = await client.post(
        f"{PAGE}/remove",
        data={"csrf_token": csrf, "email": "secret@globex.example", "organization": "globex"},
    )
    page = await client.get(answer.headers["location"])
    assert flashes_of(page.text) == [
        "Organization: you belong to &#39;acme&#39;, not &#39;globex&#39;."
    ]
    answer = await client.post(
        f"{PAGE}/remove", data={"csrf_token": csrf, "email": "secret@globex.example"}
    )
    page = await client.get(answer.headers["location"])
    assert flashes_of(page.text) == [
        "secret@globex.example was not on the suppression list; nothing changed."
    ]
    assert await suppressed(world, "globex") == {"secret@globex.example": "manual"}


async def test_a_platform_admin_picks_the_organization(
    client: httpx.AsyncClient, world: World
) -> None:
    await suppress(world, ["mine@acme.example"], "acme", "manual")
    await suppress(world, ["theirs@globex.example"], "globex", "bounced")
    csrf = await sign_in(client, world.platform_admin)
    first = (await client.get(PAGE)).text
    assert '<option value="acme" selected>' in first
    assert listed(first) == ["mine@acme.example"]
    globex = (await client.get(f"{PAGE}?organization=globex")).text
    assert listed(globex) == ["theirs@globex.example"]
    assert '<input type="hidden" name="organization" value="globex">' in globex

    answer = await client.post(
        f"{PAGE}/add",
        data={
            "csrf_token": csrf,
            "email": "new@globex.example",
            "reason": "manual",
            "organization": "globex",
        },
    )
    assert answer.headers["location"] == f"{PAGE}?organization=globex"
    assert await suppressed(world, "globex") == {
        "new@globex.example": "manual",
        "theirs@globex.example": "bounced",
    }
    assert await suppressed(world, "acme") == {"mine@acme.example": "manual"}
    unknown = (await client.get(f"{PAGE}?organization=nowhere")).text
    assert "Organization: no organization &#39;nowhere&#39;." in unknown


async def test_pages_and_the_reason_filter(client: httpx.AsyncClient, world: World) -> None:
    manual = [f"person{number:02}@example.org" for number in range(55)]
    await suppress(world, manual, "acme", "manual")
    await suppress(world, ["zed@example.org"], "acme", "bounced")
    await sign_in(client, world.acme_admin)
    first = (await client.get(PAGE)).text
    assert listed(first) == manual[:50]
    next_url = re.search(r'href="([^"]+)">Next 50 →', first)
    assert next_url is not None
    second = (await client.get(next_url.group(1).replace("&amp;", "&"))).text
    assert listed(second) == [*manual[50:], "zed@example.org"]
    assert "Next 50" not in second and "← First page" in second

    bounced = (await client.get(f"{PAGE}?reason=bounced")).text
    assert listed(bounced) == ["zed@example.org"]
    nothing = (await client.get(f"{PAGE}?reason=complained")).text
    assert listed(nothing) == [] and "No complained addresses" in nothing
    wrong = (await client.get(f"{PAGE}?reason=lost")).text
    assert "Reason: must be one of manual, unsubscribed, bounced, complained." in wrong


async def test_look_up_one_address(client: httpx.AsyncClient, world: World) -> None:
    await suppress(world, ["bob@example.org"], "acme", "unsubscribed")
    await sign_in(client, world.acme_admin)
    found = (await client.get(f"{PAGE}?address=Bob@Example.org")).text
    assert re.search(
        r"bob@example.org</span> is suppressed: <span class=\"code-tag\">unsubscribed", found
    )
    assert re.search(r', since <time datetime="\d{4}-\d\d-\d\dT', found)
    missing = (await client.get(f"{PAGE}?address=carl@example.org")).text
    assert "carl@example.org</span> is not suppressed: campaigns may mail it." in missing
    invalid = (await client.get(f"{PAGE}?address=nobody")).text
    assert "Email: &#39;nobody&#39; is not a valid address" in invalid


async def test_hostile_token_names_are_text(client: httpx.AsyncClient, world: World) -> None:
    async with world.services.database.transaction() as connection:
        _, hostile = await tokens.create_token(
            connection, role="platform_admin", organization_id=None, name=HOSTILE
        )
    csrf = await sign_in(client, hostile)
    await client.post(
        f"{PAGE}/add",
        data={
            "csrf_token": csrf,
            "email": "x@example.org",
            "reason": "manual",
            "organization": "acme",
        },
    )
    html = (await client.get(f"{PAGE}?organization=acme")).text
    assert listed(html) == ["x@example.org"]
    assert "<script>alert(1)" not in html
    assert "added by token:&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert csrf_of(html)


def upload(name: str, data: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, "text/csv")}


def stat(html: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


def skipped_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-row="(\d+)">', html)


async def test_import_a_file_see_its_report_and_export_the_list(
    client: httpx.AsyncClient, world: World
) -> None:
    await suppress(world, ["ann@example.org"], "acme", "bounced")
    csrf = await sign_in(client, world.acme_admin)
    page = (await client.get(PAGE)).text
    assert 'action="/admin/marketing/suppressions/import" enctype="multipart/form-data"' in page
    assert f'href="{PAGE}/export"' in page

    data = (
        b"email,reason\nAnn@Example.org,manual\nbob@example.org,complained\n"
        b"nobody,\ncid@example.org,\n"
    )
    answer = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf, "reason": "unsubscribed"},
        files=upload("old-esp.csv", data),
    )
    assert answer.status_code == 303
    report_url = answer.headers["location"]
    assert re.fullmatch(rf"{PAGE}/imports/\d+", report_url)
    report = (await client.get(report_url)).text
    assert (stat(report, "added"), stat(report, "unchanged"), stat(report, "invalid")) == (
        "2",
        "1",
        "1",
    )
    assert '<span class="filename">old-esp.csv</span>' in report
    assert skipped_rows(report) == ["4"]
    assert "An email address must have an @-sign." in report
    assert await suppressed(world) == {
        "ann@example.org": "bounced",
        "bob@example.org": "complained",
        "cid@example.org": "unsubscribed",
    }
    again = (await client.get(report_url)).text
    assert stat(again, "added") == "2"
    assert len(await suppressed(world)) == 3

    listing = (await client.get(PAGE)).text
    row = listing.split('<tr data-email="cid@example.org">')[1].split("</tr>")[0]
    assert "imported from old-esp.csv by token:acme admin" in row

    exported = await client.get(f"{PAGE}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="suppressions-acme.csv"' in exported.headers["content-disposition"]
    lines = exported.text.splitlines()
    assert lines[0] == "email,reason,created_at"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        "ann@example.org,bounced",
        "bob@example.org,complained",
        "cid@example.org,unsubscribed",
    ]
    complained = (await client.get(f"{PAGE}?reason=complained")).text
    assert f'href="{PAGE}/export?reason=complained"' in complained
    only = await client.get(f"{PAGE}/export?reason=complained")
    assert only.text.splitlines()[1:] == [lines[2]]


async def test_a_file_that_cannot_be_read_is_named_and_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    cases = {
        b"name\nAnn\n": "No &#34;email&#34; column: the header is &#34;name&#34;",
        b'email\n"ann@example.org\n': "Line 2: a quoted field opens here and is never closed",
        "email\nzoë@example.org\n".encode("latin-1"): "Line 2: the file is not UTF-8 text",
    }
    for data, message in cases.items():
        answer = await client.post(
            f"{PAGE}/import", data={"csrf_token": csrf}, files=upload("bad.csv", data)
        )
        assert answer.status_code in (400, 422), data
        assert "<strong>Nothing imported:</strong> " + message in answer.text, answer.text
    no_file = await client.post(f"{PAGE}/import", data={"csrf_token": csrf})
    assert no_file.status_code == 422
    assert "File: choose a CSV file with an &#39;email&#39; column." in no_file.text
    bad_reason = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf, "reason": "spam"},
        files=upload("ok.csv", b"email\nann@example.org\n"),
    )
    assert "Reason: &#39;spam&#39; is not a reason" in bad_reason.text
    assert await suppressed(world) == {}


async def test_imports_and_their_reports_stay_in_their_organization(
    client: httpx.AsyncClient, world: World
) -> None:
    await suppress(world, ["theirs@globex.example"], "globex", "manual")
    csrf = await sign_in(client, world.globex_admin)
    answer = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf},
        files=upload("globex.csv", b"email\nsecret@globex.example\n"),
    )
    globex_report = answer.headers["location"]

    client.cookies.clear()
    csrf = await sign_in(client, world.acme_admin)
    hidden = await client.get(globex_report)
    assert hidden.status_code == 404
    assert "secret@globex.example" not in hidden.text
    missing = await client.get(f"{PAGE}/imports/999999")
    assert missing.status_code == 404
    assert (await client.get(f"{PAGE}/imports/0")).status_code == 404
    export = await client.get(f"{PAGE}/export")
    assert "globex.example" not in export.text
    refused = await client.get(f"{PAGE}/export?organization=globex")
    assert refused.status_code == 303
    page = await client.get(refused.headers["location"])
    assert flashes_of(page.text) == [
        "Organization: you belong to &#39;acme&#39;, not &#39;globex&#39;."
    ]
    sneaky = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf, "organization": "globex"},
        files=upload("x.csv", b"email\nsneaky@example.org\n"),
    )
    assert "you belong to &#39;acme&#39;" in sneaky.text
    assert await suppressed(world, "globex") == {
        "secret@globex.example": "manual",
        "theirs@globex.example": "manual",
    }
    assert await suppressed(world, "acme") == {}

    client.cookies.clear()
    csrf = await sign_in(client, world.platform_admin)
    shown = (await client.get(globex_report)).text
    assert "secret@globex.example" not in shown and 'data-stat="added">1<' in shown
    answer = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf, "organization": "acme"},
        files=upload("acme.csv", b"email\nmine@acme.example\n"),
    )
    report = (await client.get(answer.headers["location"])).text
    assert f'href="{PAGE}?organization=acme">Back to the suppression list' in report
    assert await suppressed(world, "acme") == {"mine@acme.example": "manual"}
    export = await client.get(f"{PAGE}/export?organization=globex")
    assert 'filename="suppressions-globex.csv"' in export.headers["content-disposition"]


async def test_a_viewer_exports_but_cannot_import(client: httpx.AsyncClient, world: World) -> None:
    await suppress(world, ["bob@example.org"], "acme", "manual")
    csrf = await sign_in(client, world.acme_viewer)
    page = (await client.get(PAGE)).text
    assert "/admin/marketing/suppressions/import" not in page
    assert "bob@example.org" in (await client.get(f"{PAGE}/export")).text
    answer = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf},
        files=upload("x.csv", b"email\neve@example.org\n"),
    )
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert flashes_of(page.text) == [
        "You have read-only access: viewers can look but not change anything."
    ]
    forged = await client.post(
        f"{PAGE}/import",
        data={"csrf_token": "forged"},
        files=upload("x.csv", b"email\neve@example.org\n"),
    )
    assert forged.status_code == 403
    assert await suppressed(world) == {"bob@example.org": "manual"}
