"""The audience pages: contacts (search, filters, edit, delete), lists (counts, create, edit,
delete, the form snippet), segments (live count, save, edit, delete), the campaign form's
list and segment pickers; roles, CSRF, and one organization never seeing another's."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from campaignd.actions import campaigns as campaign_actions
from campaignd.actions import contacts as contact_actions
from campaignd.actions import frequency
from campaignd.actions import lists as list_actions
from campaignd.actions import segments as segment_actions
from campaignd.actions.contacts import contact_batch, contact_limits
from campaignd.store.schema import audit_log, lists, segments, suppressions
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

CONTACTS = "/admin/marketing/contacts"
LISTS = "/admin/marketing/lists"
SEGMENTS = "/admin/marketing/segments"


async def audience(world: World) -> None:
    """acme: five contacts, a list of two; globex: one contact, a list and a segment."""
    people = [
        ("ada@acme.example", {"plan": "pro", "country": "DE"}, None),
        ("bea@acme.example", {"plan": "pro", "country": "AT"}, None),
        ("cyd@acme.example", {"plan": "free"}, None),
        ("dan@other.example", {"plan": "pro"}, "unsubscribed"),
        ("eve@acme.example", {}, None),
    ]
    limits = contact_limits(world.services)
    await contact_actions.upsert_contacts(
        world.services, world.system, contact_batch(people, limits), organization="acme"
    )
    await list_actions.create_list(
        world.services, world.system, name="Newsletter", organization="acme"
    )
    await list_actions.add_members(
        world.services,
        world.system,
        "Newsletter",
        ["ada@acme.example", "cyd@acme.example"],
        organization="acme",
    )
    secret = [("zed@globex.example", {"plan": "pro"}, None)]
    await contact_actions.upsert_contacts(
        world.services, world.system, contact_batch(secret, limits), organization="globex"
    )
    await list_actions.create_list(
        world.services, world.system, name="Globex insiders", organization="globex"
    )
    await segment_actions.create_segment(
        world.services,
        world.system,
        name="Globex pros",
        filter={"attribute": "plan", "op": "eq", "value": "pro"},
        organization="globex",
    )


def emails_on(html: str) -> list[str]:
    return re.findall(r'<tr data-email="([^"]+)"', html)


def count_of(html: str) -> int:
    match = re.search(r"<strong data-count>([0-9,]+)</strong>", html)
    assert match, html
    return int(match.group(1).replace(",", ""))


async def test_contacts_search_filter_and_page(client: httpx.AsyncClient, world: World) -> None:
    await audience(world)
    await sign_in(client, world.acme_admin)
    page = await client.get(CONTACTS)
    assert page.status_code == 200
    assert 'href="/admin/marketing/contacts" aria-current="page">Audience' in page.text
    assert emails_on(page.text) == [
        "ada@acme.example",
        "bea@acme.example",
        "cyd@acme.example",
        "dan@other.example",
        "eve@acme.example",
    ]
    found = await client.get(CONTACTS, params={"search": "ACME.ex"})
    assert "dan@other.example" not in emails_on(found.text) and len(emails_on(found.text)) == 4
    gone = await client.get(CONTACTS, params={"status": "unsubscribed"})
    assert emails_on(gone.text) == ["dan@other.example"]
    members = await client.get(CONTACTS, params={"list": "Newsletter"})
    assert emails_on(members.text) == ["ada@acme.example", "cyd@acme.example"]
    both = await client.get(CONTACTS, params={"list": "Newsletter", "search": "cyd"})
    assert emails_on(both.text) == ["cyd@acme.example"]
    unknown = await client.get(CONTACTS, params={"list": "Nope"})
    assert unknown.status_code == 200 and "List: no list &#39;Nope&#39; in acme" in unknown.text
    bad_status = await client.get(CONTACTS, params={"status": "gone"})
    assert "Status: one of subscribed" in bad_status.text
    # a page at a time, in address order
    limits = contact_limits(world.services)
    many = [(f"p{index:03}@page.example", {}, None) for index in range(60)]
    await contact_actions.upsert_contacts(
        world.services, world.system, contact_batch(many, limits), organization="acme"
    )
    first = await client.get(CONTACTS, params={"search": "page.example"})
    assert len(emails_on(first.text)) == 50
    following = re.search(r'href="([^"]+)" data-action="next-page"', first.text)
    assert following
    second = await client.get(following.group(1).replace("&amp;", "&"))
    assert emails_on(second.text) == [f"p{index:03}@page.example" for index in range(50, 60)]


async def test_edit_a_contact_and_delete_it(client: httpx.AsyncClient, world: World) -> None:
    await audience(world)
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(f"{CONTACTS}/ada@acme.example")
    assert page.status_code == 200
    assert 'data-membership="Newsletter"' in page.text and "confirmed" in page.text
    assert "&#34;plan&#34;: &#34;pro&#34;" in page.text

    bad = await client.post(
        f"{CONTACTS}/ada@acme.example/edit",
        data={"csrf_token": csrf, "attributes": '{"plan": ', "status": "subscribed"},
    )
    assert bad.status_code == 422
    assert 'data-field-error="attributes"' in bad.text and "Attributes: not JSON" in bad.text
    nested = await client.post(
        f"{CONTACTS}/ada@acme.example/edit",
        data={"csrf_token": csrf, "attributes": '{"plan": {"a": 1}}', "status": "subscribed"},
    )
    assert nested.status_code == 422 and 'data-field-error="attributes"' in nested.text
    _, unchanged = await contact_actions.get_contact(
        world.services, world.system, "ada@acme.example", organization="acme"
    )
    assert unchanged.attributes == {"plan": "pro", "country": "DE"}

    saved = await client.post(
        f"{CONTACTS}/ada@acme.example/edit",
        data={
            "csrf_token": csrf,
            "attributes": '{"plan": "team", "seats": 3}',
            "status": "bounced",
        },
    )
    assert saved.status_code == 303
    shown = await client.get(saved.headers["location"])
    assert "ada@acme.example is saved (bounced)." in flashes_of(shown.text)
    _, contact = await contact_actions.get_contact(
        world.services, world.system, "ada@acme.example", organization="acme"
    )
    assert contact.attributes == {"plan": "team", "seats": 3}
    assert contact.status.value == "bounced"
    async with world.services.database.connection() as connection:
        reason = await connection.scalar(
            select(suppressions.c.reason).where(suppressions.c.email == "ada@acme.example")
        )
    assert reason == "bounced"

    deleted = await client.post(f"{CONTACTS}/ada@acme.example/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["location"] == CONTACTS
    assert (await client.get(f"{CONTACTS}/ada@acme.example")).status_code == 404
    refused = await client.post(f"{CONTACTS}/bea@acme.example/delete", data={})
    assert refused.status_code == 403
    assert (await client.get(f"{CONTACTS}/bea@acme.example")).status_code == 200


async def test_lists_counts_create_edit_snippet_delete(
    client: httpx.AsyncClient, world: World
) -> None:
    await audience(world)
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(LISTS)
    row = re.search(r'<tr data-list="Newsletter">(.*?)</tr>', page.text, re.S)
    assert row and re.search(r'data-count="confirmed"><a [^>]*>2</a>', row.group(1))

    created = await client.post(
        LISTS,
        data={
            "csrf_token": csrf,
            "name": "Weekly",
            "description": "Every Monday",
            "visibility": "public",
            "opt_in": "single",
        },
    )
    assert created.status_code == 303 and created.headers["location"] == f"{LISTS}/Weekly"
    weekly = await client.get(f"{LISTS}/Weekly")
    assert "The list “Weekly” is created (public, single opt-in)." in flashes_of(weekly.text)
    assert "data-snippet" in weekly.text and "/subscribe/acme" in weekly.text
    private = await client.get(f"{LISTS}/Newsletter")
    assert "data-snippet" not in private.text and "data-private" in private.text

    again = await client.post(
        LISTS,
        data={"csrf_token": csrf, "name": "Weekly", "visibility": "private", "opt_in": "double"},
    )
    assert again.status_code == 409 and "Acme already has a list named" in again.text
    bad = await client.post(
        LISTS, data={"csrf_token": csrf, "name": "a/b", "visibility": "x", "opt_in": "double"}
    )
    assert bad.status_code == 422 and "Not created:" in bad.text

    renamed = await client.post(
        f"{LISTS}/Weekly/edit",
        data={
            "csrf_token": csrf,
            "name": "Weekly news",
            "description": "",
            "visibility": "private",
            "opt_in": "single",
        },
    )
    assert renamed.status_code == 303
    assert renamed.headers["location"] == f"{LISTS}/Weekly%20news"
    _, row_after = await list_actions.get_list(
        world.services, world.system, "Weekly news", organization="acme"
    )
    assert row_after.visibility == "private" and row_after.description is None

    campaign_id = await world.campaign("Spring")
    await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "Spring",
            "subject": "Hello",
            "text_body": "Hi",
            "targets_shown": "1",
            "lists": "Weekly news",
        },
    )
    refused = await client.post(f"{LISTS}/Weekly%20news/delete", data={"csrf_token": csrf})
    shown = await client.get(refused.headers["location"])
    assert any(
        "targeted by campaigns that may still send" in text for text in flashes_of(shown.text)
    )
    await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "Spring",
            "subject": "Hello",
            "text_body": "Hi",
            "targets_shown": "1",
        },
    )
    deleted = await client.post(f"{LISTS}/Weekly%20news/delete", data={"csrf_token": csrf})
    assert deleted.headers["location"] == LISTS
    assert (await client.get(f"{LISTS}/Weekly%20news")).status_code == 404


async def test_segment_builder_counts_saves_edits_deletes(
    client: httpx.AsyncClient, world: World
) -> None:
    await audience(world)
    csrf = await sign_in(client, world.acme_admin)
    builder = await client.get(f"{SEGMENTS}/new")
    assert (
        builder.status_code == 200 and 'hx-post="/admin/marketing/segments/count"' in builder.text
    )

    async def live(text: str) -> str:
        answer = await client.post(f"{SEGMENTS}/count", data={"csrf_token": csrf, "filter": text})
        assert answer.status_code == 200
        return answer.text

    assert count_of(await live('{"all": []}')) == 4  # dan unsubscribed
    pros = await live('{"attribute": "plan", "op": "eq", "value": "pro"}')
    assert count_of(pros) == 2 and "ada@acme.example" in pros and "bea@acme.example" in pros
    assert count_of(await live('{"list": "Newsletter"}')) == 2
    broken = await live('{"attribute": "plan", "op": "eq"')
    assert 'data-field-error="filter"' in broken and "filter: not JSON" in broken
    wrong = await live('{"attribute": "plan", "op": "gt", "value": "x"}')
    assert 'data-field-error="filter"' in wrong and "filter.value" in wrong
    theirs = await live('{"list": "Globex insiders"}')
    assert "acme has no list named &#39;Globex insiders&#39;" in theirs
    without = await client.post(f"{SEGMENTS}/count", data={"filter": "{}"})
    assert without.status_code == 403

    bad = await client.post(
        f"{SEGMENTS}/new", data={"csrf_token": csrf, "name": "Pros", "filter": '{"list": "x"}'}
    )
    assert bad.status_code == 422
    assert 'data-field-error="filter"' in bad.text and 'value="Pros"' in bad.text
    saved = await client.post(
        f"{SEGMENTS}/new",
        data={
            "csrf_token": csrf,
            "name": "Pros",
            "description": "paying",
            "filter": '{"attribute": "plan", "op": "eq", "value": "pro"}',
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{SEGMENTS}/Pros"
    listing = await client.get(SEGMENTS)
    assert 'data-segment="Pros"' in listing.text and "plan = &#34;pro&#34;" in listing.text
    assert "Globex pros" not in listing.text

    edited = await client.post(
        f"{SEGMENTS}/Pros/edit",
        data={
            "csrf_token": csrf,
            "name": "Free",
            "description": "",
            "filter": '{"attribute": "plan", "op": "eq", "value": "free"}',
        },
    )
    assert edited.headers["location"] == f"{SEGMENTS}/Free"
    segment, count = await segment_actions.count_segment(
        world.services, world.system, "Free", organization="acme"
    )
    assert count.count == 1 and segment.description is None
    deleted = await client.post(f"{SEGMENTS}/Free/delete", data={"csrf_token": csrf})
    assert deleted.headers["location"] == SEGMENTS
    assert (await client.get(f"{SEGMENTS}/Free")).status_code == 404
    actions = [
        row["action"]
        for row in await rows_of(world, audit_log)
        if str(row["action"]).startswith("segment.")
    ]
    assert actions[-3:] == ["segment.create", "segment.edit", "segment.delete"]


async def rows_of(world: World, table: Any) -> list[Any]:
    async with world.services.database.connection() as connection:
        return list((await connection.execute(select(table))).mappings())


async def test_campaign_form_pickers_save_and_show_the_targets(
    client: httpx.AsyncClient, world: World
) -> None:
    await audience(world)
    await segment_actions.create_segment(
        world.services,
        world.system,
        name="Pros",
        filter={"attribute": "plan", "op": "eq", "value": "pro"},
        organization="acme",
    )
    csrf = await sign_in(client, world.acme_admin)
    form = await client.get("/admin/marketing/campaigns/new")
    assert 'data-pick-list="Newsletter"' in form.text and 'data-pick-segment="Pros"' in form.text
    assert "Globex" not in form.text
    created = await client.post(
        "/admin/marketing/campaigns/new",
        data={
            "csrf_token": csrf,
            "name": "Audience",
            "subject": "Hello",
            "text_body": "Hi {{ email }}",
            "targets_shown": "1",
            "lists": "Newsletter",
            "segments": "Pros",
        },
    )
    assert created.status_code == 303, created.text
    detail = await client.get(created.headers["location"])
    assert 'data-target-list="Newsletter"' in detail.text
    assert 'data-target-segment="Pros"' in detail.text
    campaign_id = int(created.headers["location"].rsplit("/", 1)[1])
    edit = await client.get(f"/admin/marketing/campaigns/{campaign_id}/edit")
    assert re.search(r'value="Newsletter" checked', edit.text)
    # another organization's names are refused like names nobody has; nothing is saved
    theirs = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "Renamed",
            "subject": "Hello",
            "text_body": "Hi",
            "targets_shown": "1",
            "lists": "Globex insiders",
            "segments": "Pros",
        },
    )
    assert theirs.status_code == 422
    assert 'data-field-error="lists">No list named &#39;Globex insiders&#39;' in theirs.text
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert kept["name"] == "Audience" and kept["lists"] == ["Newsletter"]
    # a save without the pickers (no targets_shown) leaves the targets alone
    await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data={"csrf_token": csrf, "name": "Audience 2", "subject": "Hello", "text_body": "Hi"},
    )
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert kept["lists"] == ["Newsletter"] and kept["segments"] == ["Pros"]
    # unticking everything clears them
    await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "Audience 2",
            "subject": "Hello",
            "text_body": "Hi",
            "targets_shown": "1",
        },
    )
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert kept["lists"] == [] and kept["segments"] == []


async def test_an_organization_never_sees_another_s_audience(
    client: httpx.AsyncClient, world: World
) -> None:
    await audience(world)
    csrf = await sign_in(client, world.globex_admin)
    pages = [
        CONTACTS,
        f"{CONTACTS}?organization=acme",
        f"{CONTACTS}?search=acme",
        LISTS,
        f"{LISTS}?organization=acme",
        SEGMENTS,
        "/admin/marketing/campaigns/new",
    ]
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, path
        assert "acme.example" not in page.text and "Newsletter" not in page.text, path
    own = await client.get(CONTACTS)
    assert emails_on(own.text) == ["zed@globex.example"]
    for path in (
        f"{CONTACTS}/ada@acme.example",
        f"{CONTACTS}/ada@acme.example?organization=acme",
        f"{LISTS}/Newsletter",
        f"{LISTS}/Newsletter?organization=acme",
    ):
        assert (await client.get(path)).status_code == 404, path
    for path, data in (
        (f"{CONTACTS}/ada@acme.example/edit", {"attributes": "{}", "status": "subscribed"}),
        (f"{CONTACTS}/ada@acme.example/delete", {}),
        (f"{LISTS}/Newsletter/edit", {"name": "Mine"}),
        (f"{LISTS}/Newsletter/delete", {}),
        (f"{LISTS}/Newsletter/delete", {"organization": "acme"}),
    ):
        answer = await client.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 404, path
    counted = await client.post(
        f"{SEGMENTS}/count", data={"csrf_token": csrf, "filter": '{"list": "Newsletter"}'}
    )
    assert "globex has no list named &#39;Newsletter&#39;" in counted.text
    everyone = await client.post(
        f"{SEGMENTS}/count",
        data={"csrf_token": csrf, "filter": '{"all": []}', "organization": "acme"},
    )
    assert count_of(everyone.text) == 1 and "zed@globex.example" in everyone.text
    async with world.services.database.connection() as connection:
        names = set((await connection.execute(select(lists.c.name))).scalars())
        segment_names = set((await connection.execute(select(segments.c.name))).scalars())
    assert names == {"Newsletter", "Globex insiders"} and segment_names == {"Globex pros"}


async def test_platform_admins_choose_the_organization(
    client: httpx.AsyncClient, world: World
) -> None:
    await audience(world)
    await sign_in(client, world.platform_admin)
    first = await client.get(LISTS)
    assert 'id="organization-picker"' in first.text and 'data-list="Newsletter"' in first.text
    other = await client.get(LISTS, params={"organization": "globex"})
    assert 'data-list="Globex insiders"' in other.text and "Newsletter" not in other.text
    contact = await client.get(f"{CONTACTS}/zed@globex.example", params={"organization": "globex"})
    assert contact.status_code == 200
    assert (await client.get(f"{CONTACTS}/zed@globex.example")).status_code == 404


async def test_viewers_look_but_do_not_change(client: httpx.AsyncClient, world: World) -> None:
    await audience(world)
    csrf = await sign_in(client, world.acme_viewer)
    lists_page = await client.get(LISTS)
    assert 'data-list="Newsletter"' in lists_page.text and "create-list" not in lists_page.text
    assert "save-contact" not in (await client.get(f"{CONTACTS}/ada@acme.example")).text
    for path, data in (
        (LISTS, {"name": "Mine", "visibility": "private", "opt_in": "double"}),
        (f"{LISTS}/Newsletter/delete", {}),
        (f"{CONTACTS}/ada@acme.example/delete", {}),
        (f"{SEGMENTS}/new", {"name": "x", "filter": "{}"}),
    ):
        answer = await client.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 303, path
        shown = await client.get(answer.headers["location"])
        assert any("read-only" in text for text in flashes_of(shown.text)), path
    assert (await client.get(f"{LISTS}/Newsletter")).status_code == 200
    assert (await client.get(f"{CONTACTS}/ada@acme.example")).status_code == 200
    live = await client.post(
        f"{SEGMENTS}/count", data={"csrf_token": csrf, "filter": '{"all": []}'}
    )
    assert count_of(live.text) == 4


async def test_the_campaign_form_puts_a_campaign_in_a_category(
    client: httpx.AsyncClient, world: World
) -> None:
    await frequency.change_rules(
        world.services,
        world.system,
        rules=[{"max": 5, "days": 7}],
        category="product-updates",
        organization="acme",
    )
    csrf = await sign_in(client, world.acme_admin)
    form = await client.get("/admin/marketing/campaigns/new")
    assert '<option value="product-updates"' in form.text
    fields = {"csrf_token": csrf, "subject": "Hello", "text_body": "Hi", "targets_shown": "1"}
    created = await client.post(
        "/admin/marketing/campaigns/new",
        data=fields | {"name": "Release", "category_shown": "1", "category": "product-updates"},
    )
    assert created.status_code == 303, created.text
    campaign_id = int(created.headers["location"].rsplit("/", 1)[1])
    detail = await client.get(created.headers["location"])
    assert re.search(r"<dt>Category</dt><dd>product-updates</dd>", detail.text)
    # an unknown category is refused next to the field and changes nothing
    unknown = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data=fields | {"name": "Release 2", "category_shown": "1", "category": "nope"},
    )
    assert unknown.status_code == 422
    assert 'data-field-error="category"' in unknown.text
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert (kept["name"], kept["category"]) == ("Release", "product-updates")
    # "None" takes it out of the category
    await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data=fields | {"name": "Release", "category_shown": "1", "category": ""},
    )
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert kept["category"] is None
