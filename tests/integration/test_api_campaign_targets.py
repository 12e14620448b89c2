"""The campaign fields ``lists`` and ``segments`` over HTTP: set, read, edited while the
content is editable, unknown names refused with nothing changed, other organizations'
names unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import campaigns
from tests.integration.api_client import Api, open_api
from tests.integration.targeting_support import add_list, add_segment


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def organization_id(api: Api, slug: str) -> int:
    async with api.database.connection() as connection:
        row = await organization_by_slug(connection, slug)
    assert row is not None
    return int(row["id"])


@pytest.fixture
async def targets(api: Api) -> None:
    """acme: lists Newsletter and Customers, segment Active; globex: list Partners and
    segment Big spenders."""
    acme, globex = await organization_id(api, "acme"), await organization_id(api, "globex")
    await add_list(api.database, acme, "Newsletter")
    await add_list(api.database, acme, "Customers")
    await add_segment(api.database, acme, "Active")
    await add_list(api.database, globex, "Partners")
    await add_segment(api.database, globex, "Big spenders")


async def test_created_with_lists_and_segments_shows_them(api: Api, targets: None) -> None:
    created = await api.create(lists=["Newsletter", "Customers", "Newsletter"], segments=["Active"])

    assert created["lists"] == ["Customers", "Newsletter"]
    assert created["segments"] == ["Active"]
    assert created["recipientCount"] == 0
    campaign_id = created["id"]
    shown = (await api.call("acme_viewer", "GET", f"/campaigns/{campaign_id}")).json()
    assert (shown["lists"], shown["segments"]) == (["Customers", "Newsletter"], ["Active"])
    page = (await api.call("acme_viewer", "GET", "/campaigns")).json()
    assert page["campaigns"][0]["lists"] == ["Customers", "Newsletter"]
    [entry] = [row for row in await api.audit() if row["action"] == "campaign.create"]
    assert entry["detail"]["lists"] == ["Customers", "Newsletter"]
    assert entry["detail"]["segments"] == ["Active"]


async def test_the_scheduled_campaigns_name_their_lists_and_segments(
    api: Api, targets: None
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await api.create(lists=["Newsletter"], segments=["Active"], scheduledFor=soon)

    body = (await api.call("acme_viewer", "GET", "/campaigns/scheduled")).json()

    [shown] = [item for item in body["campaigns"] if item["id"] == created["id"]]
    assert (shown["recipientCount"], shown["lists"], shown["segments"]) == (
        0,
        ["Newsletter"],
        ["Active"],
    )


async def test_a_campaign_without_targets_shows_empty_lists(api: Api) -> None:
    created = await api.create(recipients=["ada@example.org"])

    assert (created["lists"], created["segments"]) == ([], [])


@pytest.mark.parametrize(
    ("field", "names", "words"),
    [
        ("lists", ["Newsletter", "Nope"], "lists: no list named 'Nope' in this organization"),
        ("lists", ["Zed", "Nope"], "lists: no lists named 'Nope', 'Zed' in this organization"),
        ("segments", ["Gone"], "segments: no segment named 'Gone' in this organization"),
    ],
)
async def test_unknown_names_are_refused_and_nothing_is_created(
    api: Api, targets: None, field: str, names: list[str], words: str
) -> None:
    before = await api.snapshot()

    answer = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json={"name": "Spring", "subject": "Hi", "textBody": "Hi", field: names},
    )

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(words)
    assert await api.snapshot() == before


async def test_another_organizations_names_are_unknown(api: Api, targets: None) -> None:
    """globex's list and segment answer exactly as names nobody has."""
    answers = {}
    for field, theirs, nobodys in (
        ("lists", "Partners", "Nobody's"),
        ("segments", "Big spenders", "Nobody's"),
    ):
        for name in (theirs, nobodys):
            response = await api.call(
                "acme_admin",
                "POST",
                "/campaigns",
                json={"name": "Spring", "subject": "Hi", "textBody": "Hi", field: [name]},
            )
            answers[field, name] = (
                response.status_code,
                response.json()["detail"].replace(name, "NAME"),
            )
        assert answers[field, theirs] == answers[field, nobodys]
        assert answers[field, theirs][0] == 422
    platform = await api.call(
        "platform",
        "POST",
        "/campaigns",
        json={
            "name": "Spring",
            "subject": "Hi",
            "textBody": "Hi",
            "organization": "acme",
            "lists": ["Partners"],
        },
    )
    assert platform.status_code == 422  # names are looked up in the campaign's organization


async def test_edit_replaces_lists_and_segments_while_editable(api: Api, targets: None) -> None:
    campaign_id = (await api.create(lists=["Newsletter"]))["id"]

    edited = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{campaign_id}", json={"lists": ["Customers"]}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["lists"], edited.json()["segments"]) == (["Customers"], [])

    edited = await api.call(
        "acme_admin",
        "PATCH",
        f"/campaigns/{campaign_id}",
        json={"segments": ["Active"], "name": "Renamed"},
    )
    assert edited.json()["lists"] == ["Customers"]  # left out: unchanged
    assert (edited.json()["segments"], edited.json()["name"]) == (["Active"], "Renamed")

    edited = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{campaign_id}", json={"lists": [], "segments": []}
    )
    assert (edited.json()["lists"], edited.json()["segments"]) == ([], [])
    edits = [row["detail"] for row in await api.audit() if row["action"] == "campaign.edit"]
    assert edits[0] == {"fields": ["lists"], "lists": ["Customers"]}


async def test_unknown_name_in_an_edit_changes_nothing(api: Api, targets: None) -> None:
    campaign_id = (await api.create(lists=["Newsletter"], segments=["Active"]))["id"]
    before = await api.snapshot()

    answer = await api.call(
        "acme_admin",
        "PATCH",
        f"/campaigns/{campaign_id}",
        json={"name": "Renamed", "lists": ["Customers", "Partners"]},
    )

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("lists: no list named 'Partners'")
    assert await api.snapshot() == before
    shown = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert (shown["name"], shown["lists"]) == ("Spring news", ["Newsletter"])


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled", "failed"])
async def test_targets_cannot_change_once_content_cannot(
    api: Api, targets: None, status: str
) -> None:
    campaign_id = (await api.create(lists=["Newsletter"]))["id"]
    async with api.database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status=status)
        )

    answer = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{campaign_id}", json={"lists": ["Customers"]}
    )

    assert answer.status_code == 409
    assert answer.json()["detail"].startswith(f"cannot edit a campaign that is {status}")
    shown = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert shown["lists"] == ["Newsletter"]


async def test_targets_of_a_scheduled_campaign_can_change(api: Api, targets: None) -> None:
    campaign_id = await api.campaign_in("scheduled", lists=["Newsletter"])

    answer = await api.call(
        "platform", "PATCH", f"/campaigns/{campaign_id}", json={"lists": ["Customers"]}
    )

    assert answer.status_code == 200
    assert answer.json()["status"] == "scheduled" and answer.json()["lists"] == ["Customers"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"lists": None}, "lists: must be a list"),
        ({"lists": "Newsletter"}, "lists: must be a list"),
        ({"lists": [""]}, "lists[0]: string should have at least 1 character"),
        ({"segments": ["x" * 101]}, "segments[0]: string should have at most 100 characters"),
    ],
)
async def test_malformed_targets_are_refused(
    api: Api, targets: None, body: dict[str, object], words: str
) -> None:
    campaign_id = (await api.create(lists=["Newsletter"]))["id"]

    answer = await api.call("acme_admin", "PATCH", f"/campaigns/{campaign_id}", json=body)

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(words), answer.json()


async def test_a_viewer_cannot_change_targets(api: Api, targets: None) -> None:
    campaign_id = (await api.create(lists=["Newsletter"]))["id"]

    answer = await api.call(
        "acme_viewer", "PATCH", f"/campaigns/{campaign_id}", json={"lists": ["Customers"]}
    )

    assert answer.status_code == 403
