"""Segments over HTTP: save, read, list, edit, delete; live counts and samples; refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, insert, or_, select, update

from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import (
    audit_log,
    campaign_segments,
    campaigns,
    contacts,
    list_members,
    lists,
    organizations,
    segments,
)
from campaignd.store.segments import segment_conditions
from tests.integration.api_client import Api, open_api

ISSUE_EXAMPLE = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT"]},
        {"attribute": "signed_up_at", "op": "after", "value": "now-30d"},
    ]
}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def organization_id(api: Api, slug: str) -> int:
    async with api.database.connection() as connection:
        statement = select(organizations.c.id).where(organizations.c.slug == slug)
        return int((await connection.execute(statement)).scalar_one())


async def add_contacts(
    api: Api, slug: str, people: dict[str, dict[str, Any]], *, status: str = "subscribed"
) -> dict[str, int]:
    """Contacts as the contacts API would leave them (written here directly); their ids."""
    owner = await organization_id(api, slug)
    now = utcnow()
    async with api.database.transaction() as connection:
        rows = (
            await connection.execute(
                insert(contacts).returning(contacts.c.id, contacts.c.email),
                [
                    {
                        "organization_id": owner,
                        "email": email,
                        "attributes": attributes,
                        "status": status,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for email, attributes in people.items()
                ],
            )
        ).all()
    return {email: int(contact_id) for contact_id, email in rows}


async def add_list(api: Api, slug: str, name: str, members: dict[int, str]) -> int:
    owner = await organization_id(api, slug)
    now = utcnow()
    async with api.database.transaction() as connection:
        list_id = (
            await connection.execute(
                insert(lists)
                .values(
                    organization_id=owner,
                    name=name,
                    visibility="public",
                    opt_in="double",
                    created_at=now,
                    updated_at=now,
                )
                .returning(lists.c.id)
            )
        ).scalar_one()
        if members:
            await connection.execute(
                insert(list_members),
                [
                    {
                        "list_id": list_id,
                        "contact_id": contact_id,
                        "status": status,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for contact_id, status in members.items()
                ],
            )
    return int(list_id)


async def acme_audience(api: Api) -> dict[str, int]:
    ids = await add_contacts(
        api,
        "acme",
        {
            "ada@acme.example": {"plan": "pro", "country": "DE", "signed_up_at": days_ago(3)},
            "bea@acme.example": {"plan": "pro", "country": "AT", "signed_up_at": days_ago(10)},
            "cyd@acme.example": {"plan": "pro", "country": "FR", "signed_up_at": days_ago(3)},
            "dan@acme.example": {"plan": "pro", "country": "DE", "signed_up_at": days_ago(90)},
            "eve@acme.example": {"plan": "free", "country": "DE", "signed_up_at": days_ago(1)},
            "fay@acme.example": {"plan": "Pro", "country": "DE"},
        },
    )
    ids |= await add_contacts(
        api,
        "acme",
        {"gus@acme.example": {"plan": "pro", "country": "DE", "signed_up_at": days_ago(2)}},
        status="unsubscribed",
    )
    await add_list(
        api,
        "acme",
        "newsletter",
        {
            ids["ada@acme.example"]: "confirmed",
            ids["bea@acme.example"]: "unconfirmed",
            ids["eve@acme.example"]: "confirmed",
            ids["gus@acme.example"]: "confirmed",
        },
    )
    return ids


async def create(api: Api, who: str = "acme_admin", **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Pro in DACH")
    body.setdefault("filter", ISSUE_EXAMPLE)
    response = await api.call(who, "POST", "/segments", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def count_rows(api: Api, table: Any) -> int:
    async with api.database.connection() as connection:
        statement = select(func.count()).select_from(table)
        return int((await connection.execute(statement)).scalar_one())


async def test_save_read_count_list_edit_delete(api: Api) -> None:
    await acme_audience(api)
    created = await create(api, description="paying customers, new")
    assert created["organization"] == "acme" and created["name"] == "Pro in DACH"
    assert created["filter"] == ISSUE_EXAMPLE
    assert created["filterText"] == (
        'plan = "pro" and country in ["DE", "AT"] and signed_up_at after "now-30d"'
    )
    segment_path = "/segments/Pro%20in%20DACH"

    read = await api.call("acme_viewer", "GET", segment_path)
    assert read.status_code == 200 and read.json() == created

    counted = await api.call("acme_viewer", "GET", f"{segment_path}/count")
    assert counted.status_code == 200
    assert counted.json()["count"] == 2
    assert [contact["email"] for contact in counted.json()["sample"]] == [
        "ada@acme.example",
        "bea@acme.example",
    ]
    assert counted.json()["sample"][0]["attributes"]["country"] == "DE"
    one = await api.call("acme_admin", "GET", f"{segment_path}/count?sample=1")
    assert one.json()["count"] == 2 and len(one.json()["sample"]) == 1

    await create(api, name="Newsletter readers", filter={"list": "newsletter"})
    listing = await api.call("acme_viewer", "GET", "/segments?limit=1")
    assert [item["name"] for item in listing.json()["segments"]] == ["Newsletter readers"]
    cursor = listing.json()["nextCursor"]
    rest = await api.call("acme_viewer", "GET", f"/segments?limit=1&cursor={cursor}")
    assert [item["name"] for item in rest.json()["segments"]] == ["Pro in DACH"]
    assert rest.json()["nextCursor"] is None

    edited = await api.call(
        "acme_admin",
        "PATCH",
        segment_path,
        json={"name": "Pro, German-speaking", "filter": {"not": ISSUE_EXAMPLE}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["name"] == "Pro, German-speaking"
    assert edited.json()["description"] == "paying customers, new"
    old_name = await api.call("acme_admin", "GET", segment_path)
    assert old_name.status_code == 404
    segment_path = "/segments/Pro,%20German-speaking"
    recount = await api.call("acme_admin", "GET", f"{segment_path}/count")
    assert recount.json()["count"] == 4  # the six subscribed, but ada and bea

    deleted = await api.call("acme_admin", "DELETE", segment_path)
    assert deleted.status_code == 204
    gone = await api.call("acme_admin", "GET", segment_path)
    assert gone.status_code == 404 and gone.json() == {
        "detail": "segment 'Pro, German-speaking' not found in acme"
    }
    actions = [row["action"] for row in await api.audit() if row["action"].startswith("segment.")]
    assert actions == ["segment.create", "segment.create", "segment.edit", "segment.delete"]


async def test_only_subscribed_confirmed_members_count_for_a_list(api: Api) -> None:
    await acme_audience(api)
    response = await api.call(
        "acme_admin", "POST", "/segments/count", json={"filter": {"list": "newsletter"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization"] == "acme"
    assert [contact["email"] for contact in response.json()["sample"]] == [
        "ada@acme.example",
        "eve@acme.example",
    ]
    everyone = await api.call("acme_admin", "POST", "/segments/count", json={"filter": {"all": []}})
    assert everyone.json()["count"] == 6
    assert await count_rows(api, segments) == 0  # counting saves nothing


BAD_FILTERS = [
    (
        {"all": [{"list": "newsletter"}, {}, {"attribute": "a", "op": "in"}]},
        "filter.all[1]: an empty object is not a filter",
    ),
    (
        {
            "all": [
                {"list": "newsletter"},
                {"attribute": "plan", "op": "eq", "value": "pro"},
                {"attribute": "country", "op": "in", "value": "DE"},
            ]
        },
        'filter.all[2].value: "in" needs a list of values',
    ),
    (
        {"any": [{"not": {"list": "customers"}}]},
        "filter.any[0].not.list: acme has no list named 'customers'",
    ),
    (
        {"attribute": "signed up", "op": "exists"},
        'filter.attribute: "signed up" is not an attribute name',
    ),
    ({"attribute": "d", "op": "after", "value": "2026-11-05 09:00"}, "needs a time zone"),
    ("plan = pro", "filter: "),
]


@pytest.mark.parametrize(("document", "detail"), BAD_FILTERS)
async def test_bad_filters_are_refused_with_their_path(
    api: Api, document: Any, detail: str
) -> None:
    await add_list(api, "acme", "newsletter", {})
    before = await api.snapshot(), await count_rows(api, segments)
    for path, body in [
        ("/segments", {"name": "Bad", "filter": document}),
        ("/segments/count", {"filter": document}),
    ]:
        response = await api.call("acme_admin", "POST", path, json=body)
        assert response.status_code == 422, response.text
        assert detail in response.json()["detail"]
    assert (await api.snapshot(), await count_rows(api, segments)) == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": ""}, "name: "),
        ({"name": "   "}, "name: must not be empty"),
        ({"name": "a\tb"}, "name: must not contain control characters"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"filter": None}, "filter: "),
    ],
)
async def test_bad_fields_are_refused(api: Api, body: dict[str, Any], detail: str) -> None:
    response = await api.call(
        "acme_admin", "POST", "/segments", json={"name": "Ok", "filter": {"all": []}} | body
    )
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert await count_rows(api, segments) == 0


async def test_a_bad_filter_in_an_edit_changes_nothing(api: Api) -> None:
    segment = await create(api)
    for body, detail in [
        ({"filter": {"attribute": "age", "op": "gt", "value": "18"}}, 'filter.value: "gt" needs'),
        ({"filter": None}, "filter: cannot be null"),
        ({}, "the body names no field to change"),
        ({"name": "Other", "filter": {"list": "nope"}}, "filter.list: acme has no list"),
    ]:
        response = await api.call(
            "acme_admin", "PATCH", f"/segments/{quote(segment['name'])}", json=body
        )
        assert response.status_code == 422, response.text
        assert detail in response.json()["detail"]
    after = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}")
    assert after.json() == segment


async def test_names_are_unique_per_organization(api: Api) -> None:
    first = await create(api, name="VIP")
    again = await api.call(
        "acme_admin", "POST", "/segments", json={"name": "VIP", "filter": {"all": []}}
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "name: acme already has a segment named 'VIP'"}
    other = await create(api, name="Other")
    rename = await api.call(
        "acme_admin", "PATCH", f"/segments/{quote(other['name'])}", json={"name": "VIP"}
    )
    assert rename.status_code == 409
    same = await api.call(
        "acme_admin", "PATCH", f"/segments/{quote(first['name'])}", json={"name": "VIP"}
    )
    assert same.status_code == 200
    elsewhere = await create(api, "globex_admin", name="VIP", filter={"all": []})
    assert elsewhere["organization"] == "globex"


async def test_another_organization_sees_nothing(api: Api) -> None:
    await acme_audience(api)
    segment = await create(api)
    missing = "Not there"
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/count", None),
        ("PATCH", "", {"name": "Mine now"}),
        ("DELETE", "", None),
    ]:
        theirs = await api.call(
            "globex_admin", method, f"/segments/{quote(segment['name'])}{suffix}", json=body
        )
        nothing = await api.call(
            "globex_admin", method, f"/segments/{quote(missing)}{suffix}", json=body
        )
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json()["detail"].replace(segment["name"], "N") == nothing.json()[
            "detail"
        ].replace(missing, "N")
        # naming acme in the request does not help either
        named = await api.call(
            "globex_admin",
            method,
            f"/segments/{quote(segment['name'])}{suffix}?organization=acme",
            json=body,
        )
        assert named.status_code == 422
    assert (await api.call("globex_admin", "GET", "/segments")).json()["segments"] == []
    # acme's list is not globex's: named in a globex filter, it is unknown
    refused = await api.call(
        "globex_admin", "POST", "/segments/count", json={"filter": {"list": "newsletter"}}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "filter.list: globex has no list named 'newsletter'"
    # globex has a list of the same name with acme's contacts linked in: still nobody of acme
    acme_ids = await add_contacts(api, "globex", {"zed@globex.example": {"plan": "pro"}})
    async with api.database.connection() as connection:
        all_acme = [
            int(value)
            for value in (
                await connection.execute(
                    select(contacts.c.id).where(contacts.c.email.like("%@acme.example"))
                )
            ).scalars()
        ]
    await add_list(
        api,
        "globex",
        "newsletter",
        {contact_id: "confirmed" for contact_id in [*all_acme, *acme_ids.values()]},
    )
    counted = await api.call(
        "globex_admin", "POST", "/segments/count", json={"filter": {"list": "newsletter"}}
    )
    assert counted.json()["count"] == 1
    assert [contact["email"] for contact in counted.json()["sample"]] == ["zed@globex.example"]
    everything = await api.call(
        "globex_admin", "POST", "/segments/count", json={"filter": {"all": []}}
    )
    assert everything.json()["count"] == 1
    # an organization admin cannot name another organization
    named = await api.call(
        "globex_admin",
        "POST",
        "/segments/count",
        json={"filter": {"all": []}, "organization": "acme"},
    )
    assert named.status_code == 422
    assert named.json()["detail"] == "organization: you belong to 'globex', not 'acme'"


async def test_platform_admins_name_the_organization(api: Api) -> None:
    await acme_audience(api)
    unnamed = await api.call("platform", "POST", "/segments", json={"name": "x", "filter": {}})
    assert unnamed.status_code == 422
    no_org = await api.call("platform", "POST", "/segments/count", json={"filter": {"all": []}})
    assert no_org.status_code == 422 and "organization: required" in no_org.json()["detail"]
    created = await create(api, "platform", organization="acme")
    assert created["organization"] == "acme"
    read = await api.call(
        "platform", "GET", f"/segments/{quote(created['name'])}/count?organization=acme"
    )
    assert read.json()["count"] == 2
    listed = await api.call("platform", "GET", "/segments?organization=acme")
    assert [item["id"] for item in listed.json()["segments"]] == [created["id"]]
    unknown = await api.call("platform", "GET", "/segments?organization=nobody")
    assert unknown.status_code == 422


async def test_viewers_read_but_do_not_change(api: Api) -> None:
    segment = await create(api)
    for method, path, body in [
        ("POST", "/segments", {"name": "x", "filter": {"all": []}}),
        ("PATCH", f"/segments/{quote(segment['name'])}", {"name": "y"}),
        ("DELETE", f"/segments/{quote(segment['name'])}", None),
    ]:
        response = await api.call("acme_viewer", method, path, json=body)
        assert response.status_code == 403, response.text
    assert (
        await api.call("acme_viewer", "GET", f"/segments/{quote(segment['name'])}")
    ).status_code == 200


@pytest.mark.parametrize("name", ["1", "abc", "Pro in dach", "x" * 100])
async def test_segments_are_addressed_by_their_exact_name(api: Api, name: str) -> None:
    await create(api)
    response = await api.call("acme_admin", "GET", f"/segments/{quote(name)}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"segment '{name}' not found in acme"}


async def test_a_name_with_a_slash_is_refused(api: Api) -> None:
    response = await api.call(
        "acme_admin", "POST", "/segments", json={"name": "Pro/Team", "filter": {"all": []}}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("name: must not contain '/'")
    assert await count_rows(api, segments) == 0


async def target(api: Api, segment_id: int, name: str, status: str) -> int:
    """A campaign of acme that targets the segment (the targeting field is another part's)."""
    campaign_id = int((await api.create("acme_admin", name=name))["id"])
    async with api.database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status=status)
        )
        await connection.execute(
            insert(campaign_segments).values(campaign_id=campaign_id, segment_id=segment_id)
        )
    return campaign_id


async def test_delete_is_refused_while_a_campaign_may_still_send_to_it(api: Api) -> None:
    segment = await create(api)
    draft = await target(api, segment["id"], "Winter Event", "draft")
    paused = await target(api, segment["id"], "Spring Sale", "paused")
    await target(api, segment["id"], "Last Year", "sent")
    refused = await api.call("acme_admin", "DELETE", f"/segments/{quote(segment['name'])}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "segment 'Pro in DACH' is targeted by campaigns that may still send: "
        f"{draft} 'Winter Event' (draft), {paused} 'Spring Sale' (paused); "
        "take it out of their targets (or cancel them) first"
    )
    assert (
        await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}")
    ).status_code == 200
    async with api.database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id.in_([draft, paused])).values(status="cancelled")
        )
    deleted = await api.call("acme_admin", "DELETE", f"/segments/{quote(segment['name'])}")
    assert deleted.status_code == 204
    assert await count_rows(api, campaign_segments) == 0
    entries = await api.rows(audit_log, audit_log.c.action == "segment.delete")
    assert entries[0]["detail"]["filter"] == ISSUE_EXAMPLE


async def test_a_list_deleted_after_saving_matches_nobody(api: Api) -> None:
    await acme_audience(api)
    segment = await create(api, name="Readers", filter={"list": "newsletter"})
    before = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}/count")
    assert before.json()["count"] == 2
    async with api.database.transaction() as connection:
        await connection.execute(lists.delete().where(lists.c.name == "newsletter"))
    after = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}/count")
    assert after.status_code == 200 and after.json() == {
        "organization": "acme",
        "count": 0,
        "sample": [],
    }


async def test_renaming_a_list_keeps_the_segments_that_name_it(api: Api) -> None:
    await acme_audience(api)
    readers = {"any": [{"list": "newsletter"}, {"not": {"list": "newsletter"}}]}
    segment = await create(api, name="Readers", filter={"list": "newsletter"})
    both = await create(api, name="Everyone", filter=readers)
    await create(api, name="Pro", filter={"attribute": "plan", "op": "eq", "value": "pro"})
    await add_list(api, "globex", "newsletter", {})
    theirs = await create(api, "globex_admin", name="Readers", filter={"list": "newsletter"})

    renamed = await api.call("acme_admin", "PATCH", "/lists/newsletter", json={"name": "Weekly"})
    assert renamed.status_code == 200, renamed.text

    read = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}")
    assert read.json()["filter"] == {"list": "Weekly"}
    counted = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}/count")
    assert counted.json()["count"] == 2
    nested = await api.call("acme_admin", "GET", f"/segments/{quote(both['name'])}")
    assert nested.json()["filter"] == {"any": [{"list": "Weekly"}, {"not": {"list": "Weekly"}}]}
    # a new list taking the old name is another list: the segment does not follow it
    await add_list(api, "acme", "newsletter", {})
    again = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}/count")
    assert again.json()["count"] == 2
    # another organization's segment naming its own list of that name is untouched
    other = await api.call("globex_admin", "GET", "/segments/Readers")
    assert other.json()["filter"] == theirs["filter"] == {"list": "newsletter"}
    entries = await api.rows(audit_log, audit_log.c.action == "list.update")
    assert entries[-1]["detail"]["segments"] == ["Everyone", "Readers"]


async def test_the_schema_documents_the_filter_and_the_conflicts(api: Api) -> None:
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    paths = schema["paths"]
    assert "409" in paths["/api/admin/marketing/segments/{name}"]["delete"]["responses"]
    create_body = schema["components"]["schemas"]["SegmentCreate"]["properties"]["filter"]
    assert create_body["examples"] == [ISSUE_EXAMPLE]
    assert '{"list": NAME}' in create_body["description"]


async def test_a_saved_filter_the_rules_no_longer_allow_is_shown_not_counted(api: Api) -> None:
    """A filter saved under looser rules (written here directly) still lists; counting it
    says why it cannot be counted."""
    segment = await create(api)
    async with api.database.transaction() as connection:
        await connection.execute(
            update(segments)
            .where(segments.c.id == segment["id"])
            .values(filter={"attribute": "plan", "op": "like", "value": "p%"})
        )
    listing = await api.call("acme_admin", "GET", "/segments")
    assert listing.status_code == 200
    assert listing.json()["segments"][0]["filterText"] == (
        '(not a valid filter any more: filter.op: "like" is not an op; one of eq, ne, in, '
        "not_in, lt, lte, gt, gte, contains, starts_with, ends_with, before, after, exists, "
        "missing)"
    )
    counted = await api.call("acme_admin", "GET", f"/segments/{quote(segment['name'])}/count")
    assert counted.status_code == 422
    assert counted.json()["detail"].startswith("the saved filter is no longer valid: filter.op")


async def test_segment_conditions_give_each_audience_for_a_fan_out(api: Api) -> None:
    await acme_audience(api)
    pro = await create(api)
    readers = await create(api, name="Readers", filter={"list": "newsletter"})
    theirs = await create(api, "globex_admin", name="Everyone", filter={"all": []})
    acme = await organization_id(api, "acme")
    async with api.database.connection() as connection:
        conditions = await segment_conditions(
            connection, acme, [readers["id"], theirs["id"], 10**9, pro["id"]], utcnow()
        )
        assert len(conditions) == 2  # globex's segment and a missing id are left out
        chosen = [
            set((await connection.execute(select(contacts.c.email).where(item))).scalars())
            for item in [*conditions, or_(*conditions)]
        ]
    assert chosen == [
        {"ada@acme.example", "eve@acme.example"},
        {"ada@acme.example", "bea@acme.example"},
        {"ada@acme.example", "bea@acme.example", "eve@acme.example"},
    ]
