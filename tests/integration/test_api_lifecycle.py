"""The lifecycle over HTTP: each allowed transition, and every refused one answers 409 and
changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from campaignd.actions.campaigns import cooldown_rules
from campaignd.domain.lifecycle import TRANSITIONS, Action, CampaignStatus
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import fan_out
from campaignd.store.schema import campaigns, runs
from tests.integration.api_client import Api, future, open_api


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


REQUESTS: dict[Action, tuple[str, str, Any]] = {
    Action.SCHEDULE: ("POST", "schedule", "future"),
    Action.UNSCHEDULE: ("POST", "unschedule", None),
    Action.EXECUTE: ("POST", "execute", None),
    Action.PAUSE: ("POST", "pause", None),
    Action.RESUME: ("POST", "resume", None),
    Action.CANCEL: ("POST", "cancel", None),
    Action.EDIT: ("PATCH", "", {"name": "Renamed"}),
    Action.DELETE: ("DELETE", "", None),
    Action.ADD_RECIPIENTS: ("POST", "recipients", {"recipients": ["new@example.com"]}),
}

REFUSED = [
    (action, status)
    for action in REQUESTS
    for status in CampaignStatus
    if status not in TRANSITIONS[action][0]
]


async def send(api: Api, action: Action, campaign_id: int, who: str = "acme_admin") -> Any:
    method, verb, body = REQUESTS[action]
    path = f"/campaigns/{campaign_id}" + (f"/{verb}" if verb else "")
    body = {"scheduledFor": future()} if body == "future" else body
    return await api.call(who, method, path, json=body)


async def force_status(api: Api, campaign_id: int, status: CampaignStatus) -> None:
    async with api.database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status=status.value)
        )


@pytest.mark.parametrize(
    ("action", "status"), REFUSED, ids=[f"{a.value}-from-{s.value}" for a, s in REFUSED]
)
async def test_refused_transition_is_409_and_changes_nothing(
    api: Api, action: Action, status: CampaignStatus
) -> None:
    campaign_id = await api.campaign_in("draft")
    await force_status(api, campaign_id, status)
    before = await api.snapshot()
    response = await send(api, action, campaign_id)
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert status.value in detail and "allowed only when" in detail
    assert await api.snapshot() == before


async def test_a_campaign_through_its_lifecycle(api: Api) -> None:
    campaign_id = int((await api.create(recipients=["ada@example.com"]))["id"])
    when = future(2)
    scheduled = await send(api, Action.SCHEDULE, campaign_id)
    assert scheduled.json()["status"] == "scheduled"
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/schedule", json={"scheduledFor": when}
    )
    assert response.status_code == 200
    assert response.json()["scheduledFor"].startswith(when[:19])
    assert (await send(api, Action.UNSCHEDULE, campaign_id)).json()["status"] == "draft"

    executed = await send(api, Action.EXECUTE, campaign_id)
    assert executed.status_code == 202
    body = executed.json()
    assert body["success"] is True and body["message"]
    run = (await api.rows(runs))[0]
    assert body["runId"] == run["id"]
    assert (run["trigger"], run["actor"]) == ("manual", "token:acme_admin")
    assert (await send(api, Action.EXECUTE, campaign_id)).status_code == 409
    assert len(await api.rows(runs)) == 1

    paused = (await send(api, Action.PAUSE, campaign_id)).json()
    assert (paused["status"], paused["statusReason"]) == ("paused", "paused by token:acme_admin")
    assert (await send(api, Action.RESUME, campaign_id)).json()["status"] == "sending"
    cancelled = await send(api, Action.CANCEL, campaign_id)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finishedAt"] is not None
    actions = [row["action"] for row in await api.audit()]
    assert actions == [
        "campaign.create",
        "campaign.schedule",
        "campaign.schedule",
        "campaign.unschedule",
        "campaign.execute",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]


async def test_missed_campaign_can_be_rescheduled_or_executed(api: Api) -> None:
    first = await api.campaign_in("draft")
    second = await api.campaign_in("draft")
    await force_status(api, first, CampaignStatus.MISSED)
    await force_status(api, second, CampaignStatus.MISSED)
    assert (await send(api, Action.SCHEDULE, first)).json()["status"] == "scheduled"
    assert (await send(api, Action.EXECUTE, second)).status_code == 202


async def test_racing_executes_produce_one_run(api: Api) -> None:
    import asyncio

    campaign_id = await api.campaign_in("scheduled")
    answers = await asyncio.gather(*(send(api, Action.EXECUTE, campaign_id) for _ in range(5)))
    assert sorted(answer.status_code for answer in answers) == [202, 409, 409, 409, 409]
    assert len(await api.rows(runs)) == 1


async def test_preview_reports_suppressed_addresses_and_changes_nothing(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    response = await api.call(
        "acme_admin", "POST", "/suppressions", json={"emails": ["grace@example.org"]}
    )
    assert response.status_code == 201
    before = await api.snapshot()
    preview = await api.call("acme_viewer", "POST", f"/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["campaignId"] == campaign_id
    assert body["campaignName"] == "Spring news"
    assert (body["totalRecipients"], body["eligible"], body["ineligible"]) == (2, 1, 1)
    assert body["reasons"][0]["email"] == "grace@example.org"
    assert body["reasons"][0]["code"] == "suppressed"
    assert body["reasons"][0]["reason"]
    assert await api.snapshot() == before


async def fan_out_now(api: Api, campaign_id: int) -> None:
    """What the scheduler does to a started campaign (no scheduler runs in these tests)."""
    async with api.database.transaction() as connection:
        await fan_out(connection, campaign_id, rules=cooldown_rules(api.services), now=utcnow())


async def test_reasons_never_name_another_organizations_campaign(api: Api) -> None:
    """Global cooldown (the default): Globex mailing an address keeps Acme from mailing it,
    and Acme reads why without learning what Globex sent."""
    secret = "Globex confidential: merger with Initech"
    theirs = await api.create("globex_admin", name=secret, recipients=["shared@example.com"])
    assert (await send(api, Action.EXECUTE, theirs["id"], "globex_admin")).status_code == 202
    await fan_out_now(api, theirs["id"])
    ours = await api.create(
        "acme_admin", name="Acme spring", recipients=["shared@example.com", "own@example.com"]
    )
    expected = "reserved for another campaign today; eligible again on "

    preview = await api.call("acme_admin", "POST", f"/campaigns/{ours['id']}/preview")
    assert (await send(api, Action.EXECUTE, ours["id"])).status_code == 202
    await fan_out_now(api, ours["id"])
    listed = await api.call("acme_admin", "GET", f"/campaigns/{ours['id']}/recipients")

    assert preview.status_code == 200, preview.text
    [reason] = preview.json()["reasons"]
    assert reason["email"] == "shared@example.com" and reason["code"] == "cooldown"
    assert reason["reason"].startswith(expected)
    assert listed.status_code == 200, listed.text
    skipped = [row for row in listed.json()["recipients"] if row["status"] == "skipped"]
    assert [row["email"] for row in skipped] == ["shared@example.com"]
    assert skipped[0]["reason"].startswith(expected)
    for answer in (preview, listed):
        assert "Globex" not in answer.text and "merger" not in answer.text


async def test_preview_counts_the_recipients_lacking_each_variable(api: Api) -> None:
    campaign = await api.create(
        subject="Hi {{ first_name }}!",
        htmlBody=(
            "<p>{{ city | default('your town') }}</p>"
            "{% for order in orders %}{{ order.number }}{% else %}No orders{% endfor %}"
            "{% if vip %}<p>Thanks, {{ vip_name | default('friend', true) }}</p>{% endif %}"
        ),
        recipients=[
            {"email": "ann@example.org", "vars": {"first_name": "Ann", "city": "Oslo"}},
            {"email": "bob@example.org", "vars": {"first_name": "", "city": ""}},
            {"email": "cy@example.org", "vars": {"city": "Rome", "first_name": None}},
            "dee@example.org",
        ],
    )
    before = await api.snapshot()
    answer = await api.call("acme_viewer", "POST", f"/campaigns/{campaign['id']}/preview")
    assert answer.status_code == 200, answer.text
    assert answer.json()["missingVariables"] == [
        {
            "name": "first_name",
            "recipients": 3,
            "emptyOnly": False,
            "seenAs": "Hi !",
            "sample": ["bob@example.org", "cy@example.org", "dee@example.org"],
        },
        {
            "name": "city",
            "recipients": 1,
            "emptyOnly": True,
            "seenAs": None,
            "sample": ["bob@example.org"],
        },
    ]
    assert answer.json()["uncheckedVariables"] == []
    assert await api.snapshot() == before

    theirs = await api.call("globex_admin", "POST", f"/campaigns/{campaign['id']}/preview")
    nowhere = await api.call("globex_admin", "POST", "/campaigns/987654/preview")
    assert theirs.status_code == nowhere.status_code == 404
    assert "bob@example.org" not in theirs.text and "first_name" not in theirs.text


async def test_preview_counts_at_most_fifty_variables_and_names_the_others(api: Api) -> None:
    names = [f"v{number:02}" for number in range(52)]
    campaign = await api.create(
        textBody=" ".join("{{ " + name + " }}" for name in names),
        recipients=[{"email": "a@example.org", "vars": {"v00": "set"}}],
    )
    answer = await api.call("acme_admin", "POST", f"/campaigns/{campaign['id']}/preview")
    assert answer.status_code == 200, answer.text
    counted = [item["name"] for item in answer.json()["missingVariables"]]
    assert counted == names[1:50]
    assert answer.json()["uncheckedVariables"] == ["v50", "v51"]
