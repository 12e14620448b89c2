"""Contacts over HTTP: bulk upsert (JSON, streamed CSV and JSON Lines), search, read, edit,
delete; limits; organizations kept apart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import audit_log, contacts
from tests.integration.api_client import Api, open_api
from tests.integration.contact_support import contact_attributes, contact_statuses

CSV = {"content-type": "text/csv; charset=utf-8"}
JSON_LINES = {"content-type": "application/x-ndjson"}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def upsert(api: Api, body: dict[str, object], who: str = "acme_admin") -> dict[str, object]:
    response = await api.call(who, "POST", "/contacts", json=body)
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


async def count_contacts(api: Api) -> int:
    async with api.database.connection() as connection:
        return int(await connection.scalar(select(func.count()).select_from(contacts)) or 0)


def counts(report: dict[str, object]) -> tuple[object, ...]:
    return tuple(
        report[name] for name in ("created", "updated", "unchanged", "erased", "invalidCount")
    )


async def test_upsert_merges_replaces_and_is_idempotent(api: Api) -> None:
    first = {
        "contacts": [
            {"email": "Ada@Example.COM", "attributes": {"first_name": "Ada", "plan": "pro"}},
            {"email": "grace@example.org", "attributes": {"age": 45, "vip": True}},
            {"email": "broken@", "attributes": {"plan": "free"}},
        ]
    }
    report = await upsert(api, first)
    assert report["organization"] == "acme"
    assert counts(report) == (2, 0, 0, 0, 1)
    assert report["invalid"] == [
        {"row": 3, "email": "broken@", "reason": report["invalid"][0]["reason"]}  # type: ignore[index]
    ]
    assert counts(await upsert(api, first)) == (0, 0, 2, 0, 1)

    merged = await upsert(
        api,
        {
            "contacts": [
                {"email": "ada@example.com", "attributes": {"plan": None, "city": "London"}}
            ]
        },
    )
    assert counts(merged) == (0, 1, 0, 0, 0)
    replaced = await upsert(
        api,
        {
            "contacts": [{"email": "grace@example.org", "attributes": {"rank": "admiral"}}],
            "mode": "replace",
        },
    )
    assert counts(replaced) == (0, 1, 0, 0, 0)
    assert await contact_attributes(api.database) == {
        "ada@example.com": {"first_name": "Ada", "city": "London"},
        "grace@example.org": {"rank": "admiral"},
    }
    again = await upsert(
        api,
        {
            "contacts": [{"email": "grace@example.org", "attributes": {"rank": "admiral"}}],
            "mode": "replace",
        },
    )
    assert counts(again) == (0, 0, 1, 0, 0)


async def test_rows_of_one_address_apply_in_order(api: Api) -> None:
    report = await upsert(
        api,
        {
            "contacts": [
                {"email": "ada@example.com", "attributes": {"plan": "free", "city": "Paris"}},
                {"email": "ADA@example.com", "attributes": {"plan": "pro"}},
            ]
        },
    )
    assert counts(report) == (1, 1, 0, 0, 0)
    assert await contact_attributes(api.database) == {
        "ada@example.com": {"plan": "pro", "city": "Paris"}
    }


async def test_new_contacts_keep_a_source_and_stored_ones_keep_theirs(api: Api) -> None:
    await upsert(api, {"contacts": [{"email": "ada@example.com"}], "source": "signup-form"})
    await upsert(api, {"contacts": [{"email": "ada@example.com", "attributes": {"a": 1}}]})
    await upsert(api, {"contacts": [{"email": "bob@example.com"}]})
    page = (await api.call("acme_admin", "GET", "/contacts")).json()
    assert {row["email"]: row["source"] for row in page["contacts"]} == {
        "ada@example.com": "signup-form",
        "bob@example.com": "api",
    }


async def test_more_than_ten_thousand_are_refused_and_nothing_is_written(api: Api) -> None:
    body = {"contacts": [{"email": f"person{number}@example.com"} for number in range(10_001)]}
    response = await api.call("acme_admin", "POST", "/contacts", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "contacts: 10001 contacts, more than 10000 per request"
    )
    assert "text/csv" in response.json()["detail"]
    assert await count_contacts(api) == 0
    exactly = await upsert(api, {"contacts": body["contacts"][:10_000]})
    assert exactly["created"] == 10_000


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ({"email": "b@example.com", "attributes": {"first name": "B"}}, "contacts[1].attributes:"),
        ({"email": "b@example.com", "attributes": {"tags": ["x"]}}, "contacts[1].attributes.tags:"),
        ({"email": "b@example.com", "status": "gone"}, "contacts[1].status"),
        ({"email": "b@example.com", "name": "B"}, "contacts[1].name: unknown field"),
    ],
)
async def test_a_bad_field_refuses_the_whole_request(
    api: Api, contact: dict[str, object], message: str
) -> None:
    body = {"contacts": [{"email": "a@example.com"}, contact]}
    response = await api.call("acme_admin", "POST", "/contacts", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await count_contacts(api) == 0


async def test_merging_beyond_the_attribute_limit_is_refused(
    database: Database, settings: Settings
) -> None:
    async with open_api(database, settings, max_vars_keys=3) as api:
        await upsert(
            api, {"contacts": [{"email": "a@example.com", "attributes": {"x": 1, "y": 2}}]}
        )
        response = await api.call(
            "acme_admin",
            "POST",
            "/contacts",
            json={"contacts": [{"email": "a@example.com", "attributes": {"z": 3, "w": 4}}]},
        )
        assert response.status_code == 422, response.text
        assert "more than 3 attributes" in response.json()["detail"]
        assert await contact_attributes(api.database) == {"a@example.com": {"x": 1, "y": 2}}


async def test_csv_and_json_lines_are_streamed_in(api: Api) -> None:
    csv_body = "email,first_name,plan\nada@example.com,Ada,pro\nnot-an-address,X,free\n"
    response = await api.call("acme_admin", "POST", "/contacts", content=csv_body, headers=CSV)
    assert response.status_code == 200, response.text
    assert counts(response.json()) == (1, 0, 0, 0, 1)
    assert response.json()["invalid"][0]["row"] == 3
    lines = "\n".join(
        [
            json.dumps({"email": "ada@example.com", "attributes": {"age": 36}}),
            json.dumps({"email": "grace@example.org", "status": "unsubscribed"}),
        ]
    )
    response = await api.call(
        "acme_admin",
        "POST",
        "/contacts?source=crm&mode=merge",
        content=lines,
        headers=JSON_LINES,
    )
    assert response.status_code == 200, response.text
    assert counts(response.json()) == (1, 1, 0, 0, 0)
    assert await contact_attributes(api.database) == {
        "ada@example.com": {"first_name": "Ada", "plan": "pro", "age": 36},
        "grace@example.org": {},
    }
    assert await contact_statuses(api.database) == {
        "ada@example.com": "subscribed",
        "grace@example.org": "unsubscribed",
    }
    async with api.database.connection() as connection:
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert actions.count("contact.import") == 2


async def test_a_stream_stopped_by_a_bad_line_keeps_the_batches_before_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("campaignd.api.routes.contacts.STREAM_BATCH_ROWS", 2)
    lines = [json.dumps({"email": f"p{number}@example.com"}) for number in range(5)]
    lines.insert(4, '{"email": "bad@example.com", "attributes": {"a": [1]}}')
    response = await api.call(
        "acme_admin", "POST", "/contacts", content="\n".join(lines), headers=JSON_LINES
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("line 5: attributes.a: must be a string")
    assert "the first 4 rows were saved (created 4, updated 0, unchanged 0)" in detail
    assert sorted(await contact_statuses(api.database)) == [
        f"p{number}@example.com" for number in range(4)
    ]


async def test_streamed_imports_may_pass_the_body_limit_and_json_may_not(
    database: Database, settings: Settings
) -> None:
    rows = "".join(f"person{number}@example.com,Name {number}\n" for number in range(400))
    body = "email,first_name\n" + rows
    assert len(body) > 4096
    async with open_api(database, settings, max_body_bytes=4096, max_import_bytes=64_000) as api:
        response = await api.call("acme_admin", "POST", "/contacts", content=body, headers=CSV)
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 400
        items = [{"email": f"person{number}@example.com"} for number in range(400)]
        too_big = await api.call("acme_admin", "POST", "/contacts", json={"contacts": items})
        assert too_big.status_code == 413
        huge = "email\n" + "x" * 70_000
        refused = await api.call("acme_admin", "POST", "/contacts", content=huge, headers=CSV)
        assert refused.status_code == 413
        assert "64000 bytes" in refused.json()["detail"]


async def test_other_content_types_are_refused(api: Api) -> None:
    response = await api.call(
        "acme_admin", "POST", "/contacts", content="x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "text/csv" in response.json()["detail"]


async def test_search_read_edit_and_delete(api: Api) -> None:
    await upsert(
        api,
        {
            "contacts": [
                {"email": f"person{number}@example.com", "attributes": {"n": number}}
                for number in range(5)
            ]
            + [{"email": "grace@navy.example.org", "status": "bounced"}]
        },
    )
    first = (await api.call("acme_admin", "GET", "/contacts?limit=2&search=EXAMPLE.COM")).json()
    assert [row["email"] for row in first["contacts"]] == [
        "person0@example.com",
        "person1@example.com",
    ]
    rest = await api.call(
        "acme_admin", "GET", f"/contacts?limit=10&search=example.com&cursor={first['nextCursor']}"
    )
    assert [row["email"] for row in rest.json()["contacts"]] == [
        "person2@example.com",
        "person3@example.com",
        "person4@example.com",
    ]
    assert rest.json()["nextCursor"] is None
    bounced = (await api.call("acme_admin", "GET", "/contacts?status=bounced")).json()
    assert [row["email"] for row in bounced["contacts"]] == ["grace@navy.example.org"]

    one = await api.call("acme_viewer", "GET", "/contacts/Person3@Example.com")
    assert one.status_code == 200
    assert one.json()["attributes"] == {"n": 3} and one.json()["status"] == "subscribed"
    edited = await api.call(
        "acme_admin",
        "PATCH",
        "/contacts/person3@example.com",
        json={"attributes": {"plan": "pro"}, "mode": "replace"},
    )
    assert edited.status_code == 200
    assert edited.json()["attributes"] == {"plan": "pro"}
    missing = await api.call("acme_admin", "PATCH", "/contacts/nobody@example.com", json={})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no contact nobody@example.com in acme"
    assert (
        await api.call("acme_admin", "DELETE", "/contacts/person3@example.com")
    ).status_code == 204
    gone = await api.call("acme_admin", "GET", "/contacts/person3@example.com")
    assert gone.status_code == 404
    assert (await api.call("acme_admin", "GET", "/contacts/not-an-address")).status_code == 422


async def test_viewers_read_but_change_nothing(api: Api) -> None:
    await upsert(api, {"contacts": [{"email": "ada@example.com"}]})
    assert (await api.call("acme_viewer", "GET", "/contacts")).status_code == 200
    for method, path, body in [
        ("POST", "/contacts", {"contacts": [{"email": "bob@example.com"}]}),
        ("PATCH", "/contacts/ada@example.com", {"status": "unsubscribed"}),
        ("DELETE", "/contacts/ada@example.com", None),
        ("GET", "/contacts/ada@example.com/export", None),
        ("POST", "/contacts/ada@example.com/erase", None),
    ]:
        response = await api.call("acme_viewer", method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert await contact_statuses(api.database) == {"ada@example.com": "subscribed"}


async def test_another_organization_cannot_see_or_change_them(api: Api) -> None:
    await upsert(api, {"contacts": [{"email": "ada@example.com", "attributes": {"plan": "pro"}}]})
    theirs = await api.call("globex_admin", "GET", "/contacts/ada@example.com")
    nobody = await api.call("globex_admin", "GET", "/contacts/nobody@example.com")
    assert (theirs.status_code, nobody.status_code) == (404, 404)
    assert theirs.json()["detail"] == nobody.json()["detail"].replace("nobody", "ada")
    assert (await api.call("globex_admin", "GET", "/contacts")).json()["contacts"] == []
    assert (
        await api.call("globex_admin", "DELETE", "/contacts/ada@example.com")
    ).status_code == 404
    patched = await api.call(
        "globex_admin", "PATCH", "/contacts/ada@example.com", json={"status": "unsubscribed"}
    )
    assert patched.status_code == 404
    named = await api.call("globex_admin", "GET", "/contacts?organization=acme")
    assert named.status_code == 422
    assert "you belong to 'globex'" in named.json()["detail"]
    assert await contact_statuses(api.database) == {"ada@example.com": "subscribed"}
    assert await contact_statuses(api.database, "globex") == {}
    platform = await api.call("platform", "GET", "/contacts/ada@example.com?organization=acme")
    assert platform.status_code == 200
    needs_one = await api.call("platform", "GET", "/contacts")
    assert needs_one.status_code == 422
    assert "organization: required for a platform admin" in needs_one.json()["detail"]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('{"score": NaN}', "contacts[0].attributes.score: must be a finite number"),
        ('{"score": 1e400}', "contacts[0].attributes.score: must be a finite number"),
        ('{"id": 123456789012345678901}', "contacts[0].attributes.id: whole numbers beyond"),
        ('{"deep": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels deep"),
    ],
)
async def test_hostile_json_is_refused_and_nothing_is_stored(
    api: Api, attributes: str, message: str
) -> None:
    body = '{"contacts": [{"email": "a@example.com", "attributes": ' + attributes + "}]}"
    response = await api.call(
        "acme_admin",
        "POST",
        "/contacts",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await count_contacts(api) == 0
