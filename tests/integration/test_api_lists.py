"""Lists over the HTTP API: create, read, change, delete, members, the form snippet; each
organization sees only its own, refusals change nothing, and every change is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import campaign_lists, contacts, list_members, lists
from tests.integration.api_client import Api, open_api


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings, public_url="https://news.acme.example") as handle:
        yield handle


async def new_list(api: Api, who: str = "acme_admin", **fields: Any) -> dict[str, Any]:
    body = {"name": "Weekly news", **fields}
    if who == "platform":
        body.setdefault("organization", "acme")
    response = await api.call(who, "POST", "/lists", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def table_counts(api: Api) -> tuple[int, int, int]:
    return (
        len(await api.rows(lists)),
        len(await api.rows(list_members)),
        len(await api.rows(contacts)),
    )


async def test_create_read_change_delete(api: Api) -> None:
    created = await new_list(api, description="Every Monday", visibility="public")
    assert created == {
        "name": "Weekly news",
        "organization": "acme",
        "description": "Every Monday",
        "visibility": "public",
        "optIn": "double",
        "members": {"unconfirmed": 0, "confirmed": 0, "unsubscribed": 0},
        "createdAt": created["createdAt"],
        "updatedAt": created["updatedAt"],
    }
    plain = await new_list(api, name="Offers")
    assert (plain["visibility"], plain["optIn"]) == ("private", "double")

    listing = (await api.call("acme_viewer", "GET", "/lists")).json()
    assert [item["name"] for item in listing["lists"]] == ["Offers", "Weekly news"]
    shown = await api.call("acme_viewer", "GET", "/lists/Weekly%20news")
    assert shown.status_code == 200 and shown.json()["description"] == "Every Monday"

    changed = await api.call(
        "acme_admin",
        "PATCH",
        "/lists/Weekly%20news",
        json={"name": "Monday news", "optIn": "single", "description": None},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Monday news"
    assert changed.json()["optIn"] == "single" and changed.json()["description"] is None
    assert (await api.call("acme_admin", "GET", "/lists/Weekly%20news")).status_code == 404

    taken = await api.call("acme_admin", "PATCH", "/lists/Offers", json={"name": "Monday news"})
    assert taken.status_code == 409 and "already has a list named 'Monday news'" in taken.text
    again = await api.call("acme_admin", "POST", "/lists", json={"name": "Offers"})
    assert again.status_code == 409

    deleted = await api.call("acme_admin", "DELETE", "/lists/Offers")
    assert deleted.status_code == 204
    assert [row["name"] for row in await api.rows(lists)] == ["Monday news"]
    actions = [(row["action"], row["target"]) for row in await api.audit()]
    assert ("list.create", "Weekly news") in actions and ("list.delete", "Offers") in actions
    assert ("list.update", "Weekly news") in actions


async def test_each_organization_sees_only_its_own_lists(api: Api) -> None:
    await new_list(api)
    await new_list(api, "globex_admin", name="Globex only")
    for method, path, body in [
        ("GET", "/lists/Weekly%20news", None),
        ("PATCH", "/lists/Weekly%20news", {"description": "mine now"}),
        ("DELETE", "/lists/Weekly%20news", None),
        ("GET", "/lists/Weekly%20news/members", None),
        ("POST", "/lists/Weekly%20news/members", {"emails": ["x@example.com"]}),
        ("DELETE", "/lists/Weekly%20news/members", {"emails": ["x@example.com"]}),
    ]:
        foreign = await api.call("globex_admin", method, path, json=body)
        missing = await api.call(
            "globex_admin", method, path.replace("Weekly%20news", "Nothing%20here"), json=body
        )
        assert foreign.status_code == missing.status_code == 404, (method, path)
        assert foreign.json()["detail"] == missing.json()["detail"].replace(
            "Nothing here", "Weekly news"
        )
    globex = (await api.call("globex_admin", "GET", "/lists")).json()["lists"]
    assert [item["name"] for item in globex] == ["Globex only"]
    refused = await api.call("acme_admin", "GET", "/lists", params={"organization": "globex"})
    assert refused.status_code == 422 and "you belong to 'acme'" in refused.text
    platform = await api.call("platform", "GET", "/lists", params={"organization": "globex"})
    assert [item["name"] for item in platform.json()["lists"]] == ["Globex only"]
    assert (await api.call("platform", "GET", "/lists")).status_code == 422
    assert [row["description"] for row in await api.rows(lists)] == [None, None]


async def test_bad_names_and_values_are_refused_and_change_nothing(api: Api) -> None:
    for body, words in [
        ({"name": "form"}, "name: 'form' is reserved"),
        ({"name": "a/b"}, "must not contain '/' or ','"),
        ({"name": "a,b"}, "must not contain '/' or ','"),
        ({"name": " padded"}, "must not start or end with a space"),
        ({"name": "line\nbreak"}, "control characters"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "visibility": "secret"}, "visibility"),
        ({"name": "ok", "optIn": "triple"}, "optIn"),
        ({"name": "ok", "colour": "red"}, "colour: unknown field"),
    ]:
        response = await api.call("acme_admin", "POST", "/lists", json=body)
        assert response.status_code == 422, (body, response.text)
        assert words in response.json()["detail"], (body, response.text)
    viewer = await api.call("acme_viewer", "POST", "/lists", json={"name": "ok"})
    assert viewer.status_code == 403
    assert await table_counts(api) == (0, 0, 0)


async def test_members_added_removed_and_paged(api: Api) -> None:
    await new_list(api, optIn="double")
    added = await api.call(
        "acme_admin",
        "POST",
        "/lists/Weekly%20news/members",
        json={"emails": ["Ada@Example.com", "grace@example.org", "ada@example.com"]},
    )
    assert added.status_code == 201, added.text
    assert added.json() == {
        "organization": "acme",
        "list": "Weekly news",
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "keptUnsubscribed": 0,
        "contactsCreated": 2,
        "erased": 0,
    }
    ada, grace = sorted(await api.rows(contacts), key=lambda row: row["email"])
    assert grace["email"] == "grace@example.org"
    assert (ada["email"], ada["status"], ada["source"]) == ("ada@example.com", "subscribed", "list")

    pending = await api.call(
        "acme_admin",
        "POST",
        "/lists/Weekly%20news/members",
        json={"emails": ["alan@example.net", "grace@example.org"], "status": "unconfirmed"},
    )
    assert pending.json()["added"] == 1 and pending.json()["updated"] == 1
    counts = (await api.call("acme_viewer", "GET", "/lists/Weekly%20news")).json()["members"]
    assert counts == {"unconfirmed": 2, "confirmed": 1, "unsubscribed": 0}

    first = await api.call(
        "acme_viewer", "GET", "/lists/Weekly%20news/members", params={"limit": 2}
    )
    page = first.json()
    assert [row["email"] for row in page["members"]] == ["ada@example.com", "alan@example.net"]
    assert page["members"][0]["status"] == "confirmed"
    assert page["members"][0]["contactStatus"] == "subscribed"
    assert page["nextCursor"] == "alan@example.net"
    rest = await api.call(
        "acme_viewer",
        "GET",
        "/lists/Weekly%20news/members",
        params={"limit": 2, "cursor": page["nextCursor"]},
    )
    assert [row["email"] for row in rest.json()["members"]] == ["grace@example.org"]
    assert rest.json()["nextCursor"] is None
    only = await api.call(
        "acme_viewer", "GET", "/lists/Weekly%20news/members", params={"status": "unconfirmed"}
    )
    assert [row["email"] for row in only.json()["members"]] == [
        "alan@example.net",
        "grace@example.org",
    ]

    removed = await api.call(
        "acme_admin",
        "DELETE",
        "/lists/Weekly%20news/members",
        json={"emails": ["alan@example.net", "nobody@example.com"]},
    )
    assert removed.json() == {
        "organization": "acme",
        "list": "Weekly news",
        "removed": 1,
        "unchanged": 1,
    }
    assert len(await api.rows(contacts)) == 3  # contacts stay
    audit = [row["action"] for row in await api.audit()]
    assert audit.count("list.members.add") == 2 and audit.count("list.members.remove") == 1


async def test_member_refusals_change_nothing(api: Api) -> None:
    await new_list(api, name="Single", optIn="single")
    before = await table_counts(api)
    for body, words in [
        ({"emails": ["ok@example.com", "not-an-address"]}, "emails[1]: 'not-an-address'"),
        ({"emails": ["ok@example.com"], "status": "unconfirmed"}, "single opt-in list"),
        ({"emails": ["ok@example.com"], "status": "unsubscribed"}, "status"),
        ({"emails": []}, "emails"),
    ]:
        response = await api.call("acme_admin", "POST", "/lists/Single/members", json=body)
        assert response.status_code == 422, (body, response.text)
        assert words in response.json()["detail"], response.text
    assert await table_counts(api) == before


async def test_someone_who_left_a_list_is_not_added_back(api: Api) -> None:
    await new_list(api)
    await api.call(
        "acme_admin", "POST", "/lists/Weekly%20news/members", json={"emails": ["ada@example.com"]}
    )
    async with api.database.transaction() as connection:
        await connection.execute(list_members.update().values(status="unsubscribed"))
    again = await api.call(
        "acme_admin", "POST", "/lists/Weekly%20news/members", json={"emails": ["ada@example.com"]}
    )
    assert again.json()["keptUnsubscribed"] == 1 and again.json()["added"] == 0
    assert [row["status"] for row in await api.rows(list_members)] == ["unsubscribed"]
    await api.call(
        "acme_admin",
        "DELETE",
        "/lists/Weekly%20news/members",
        json={"emails": ["ada@example.com"]},
    )
    back = await api.call(
        "acme_admin", "POST", "/lists/Weekly%20news/members", json={"emails": ["ada@example.com"]}
    )
    assert back.json()["added"] == 1
    assert [row["status"] for row in await api.rows(list_members)] == ["confirmed"]


async def test_a_new_contact_of_a_suppressed_address_is_not_subscribed(api: Api) -> None:
    await new_list(api)
    await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["gone@example.com"], "reason": "bounced"},
    )
    await api.call(
        "acme_admin", "POST", "/lists/Weekly%20news/members", json={"emails": ["gone@example.com"]}
    )
    [contact] = await api.rows(contacts)
    assert contact["status"] == "bounced"


@pytest.mark.parametrize("status", ["draft", "scheduled", "sending", "paused"])
async def test_a_list_targeted_by_an_unfinished_campaign_cannot_be_deleted(
    api: Api, status: str
) -> None:
    await new_list(api)
    campaign_id = await api.campaign_in(status, name="Spring news")
    [row] = await api.rows(lists)
    async with api.database.transaction() as connection:
        await connection.execute(
            insert(campaign_lists).values(campaign_id=campaign_id, list_id=row["id"])
        )
    refused = await api.call("acme_admin", "DELETE", "/lists/Weekly%20news")
    assert refused.status_code == 409
    assert f"{campaign_id} 'Spring news' ({status})" in refused.json()["detail"]
    assert len(await api.rows(lists)) == 1


async def test_a_list_of_finished_campaigns_can_be_deleted(api: Api) -> None:
    await new_list(api)
    campaign_id = await api.campaign_in("cancelled")
    [row] = await api.rows(lists)
    async with api.database.transaction() as connection:
        await connection.execute(
            insert(campaign_lists).values(campaign_id=campaign_id, list_id=row["id"])
        )
    assert (await api.call("acme_admin", "DELETE", "/lists/Weekly%20news")).status_code == 204
    assert await api.rows(campaign_lists) == []


async def test_the_form_snippet_posts_to_the_public_form(api: Api) -> None:
    await new_list(api, visibility="public", description="<b>Mondays</b>")
    await new_list(api, name="Offers & deals", visibility="public")
    await new_list(api, name="Staff", visibility="private")
    snippet = (await api.call("acme_viewer", "GET", "/lists/form")).json()
    assert snippet["action"] == "https://news.acme.example/subscribe/acme"
    assert snippet["lists"] == ["Offers & deals", "Weekly news"]
    html = snippet["html"]
    assert 'action="https://news.acme.example/subscribe/acme"' in html
    assert 'value="Offers &amp; deals"' in html and "&lt;b&gt;Mondays&lt;/b&gt;" in html
    assert 'name="website"' in html and "Staff" not in html
    one = (
        await api.call("acme_viewer", "GET", "/lists/form", params={"lists": "Weekly news"})
    ).json()
    assert one["lists"] == ["Weekly news"]
    assert '<input type="hidden" name="lists" value="Weekly news">' in one["html"]
    private = await api.call("acme_viewer", "GET", "/lists/form", params={"lists": "Staff"})
    assert private.status_code == 422 and "'Staff' is private" in private.text
    unknown = await api.call("acme_viewer", "GET", "/lists/form", params={"lists": "Nope"})
    assert unknown.status_code == 422 and "no list 'Nope'" in unknown.text
    none = await api.call("globex_admin", "GET", "/lists/form")
    assert none.status_code == 422 and "globex has no public list" in none.text
