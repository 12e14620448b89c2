"""``POST /campaigns/{id}/clone``: a new draft with the content and the recipients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.domain.lifecycle import Action, CampaignStatus
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import deliveries
from tests.integration.api_client import Api, open_api
from tests.integration.test_api_lifecycle import force_status, send


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def test_a_sent_campaign_clones_into_a_draft_with_its_content_and_recipients(
    api: Api,
) -> None:
    original = await api.create(
        htmlBody="<p>Hi {{ name }}</p>",
        fromAddress="News <news@acme.example>",
        recipients=[{"email": "ada@example.com", "vars": {"name": "Ada"}}, "bob@example.com"],
    )
    assert (await send(api, Action.EXECUTE, int(original["id"]))).status_code == 202
    await force_status(api, int(original["id"]), CampaignStatus.SENT)

    response = await api.call("acme_admin", "POST", f"/campaigns/{original['id']}/clone")

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != original["id"]
    assert copy["name"] == f"{original['name']} (copy)"
    assert (copy["status"], copy["scheduledFor"], copy["startedAt"]) == ("draft", None, None)
    for field in ("subject", "htmlBody", "textBody", "fromAddress", "organization"):
        assert copy[field] == original[field]
    assert (copy["recipientCount"], copy["counts"]) == (2, {"pending": 2})
    copied = await api.rows(deliveries, deliveries.c.campaign_id == copy["id"])
    assert {(row["email"], str(row["variables"])) for row in copied} == {
        ("ada@example.com", str({"name": "Ada"})),
        ("bob@example.com", "None"),
    }
    assert (await api.audit())[-1]["action"] == "campaign.clone"


async def test_clone_without_recipients_copies_the_content_only(api: Api) -> None:
    original = await api.create(recipients=["ada@example.com"])
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{original['id']}/clone?recipients=false"
    )
    assert response.status_code == 201, response.text
    assert (response.json()["subject"], response.json()["recipientCount"]) == (
        original["subject"],
        0,
    )


async def test_a_long_name_is_shortened_to_fit(api: Api) -> None:
    original = await api.create(name="n" * 200)
    copy = (await api.call("acme_admin", "POST", f"/campaigns/{original['id']}/clone")).json()
    assert copy["name"] == "n" * 193 + " (copy)"


async def test_clone_is_scoped_and_needs_the_right_to_change(api: Api) -> None:
    original = await api.create()
    before = await api.snapshot()
    other = await api.call("globex_admin", "POST", f"/campaigns/{original['id']}/clone")
    missing = await api.call("globex_admin", "POST", "/campaigns/999999/clone")
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(str(original["id"]), "N") == missing.json()[
        "detail"
    ].replace("999999", "N")
    viewer = await api.call("acme_viewer", "POST", f"/campaigns/{original['id']}/clone")
    assert viewer.status_code == 403
    assert await api.snapshot() == before


async def test_clone_keeps_the_lists_it_targets(api: Api) -> None:
    made = await api.call("acme_admin", "POST", "/lists", json={"name": "News"})
    assert made.status_code == 201, made.text
    original = await api.create(lists=["News"])
    copy = (
        await api.call("acme_admin", "POST", f"/campaigns/{original['id']}/clone?recipients=false")
    ).json()
    assert (copy["lists"], copy["segments"]) == (["News"], [])
