"""Deferring the recipients a frequency rule caps, end to end on a controllable clock: the
API sets the deadline, the scheduler fans out and sweeps, workers send to a real SMTP
server, and the clock (``shifted_clock``) jumps to each instant instead of waiting days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaignd.domain.frequency import Rule
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.database import Database
from campaignd.store.schema import cooldown_ledger, ledger_entries, organizations
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import deliveries_of, worker
from tests.integration.scheduling_helpers import scheduler_for
from tests.integration.shifted_clock import clock_at
from tests.integration.smtp_server import SmtpServer
from tests.integration.test_frequency import NOW, rules_for, sent_before

ADA, BOB, CY = "ada@example.com", "bob@example.com", "cy@example.com"
SPRING_FREES = NOW + timedelta(days=2)
"""'Spring' reached ada@ five days before NOW; under ``1 per 7 days`` she is free again
two days after NOW, to the microsecond."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def acme(api: Api) -> int:
    rows = await api.rows(organizations, organizations.c.slug == "acme")
    return int(rows[0]["id"])


async def weekly_rule_and_spring(api: Api) -> int:
    """acme's rule ``1 per 7 days``; 'Spring' reached ada@ five days before NOW."""
    organization = await acme(api)
    await rules_for(api.database, organization, (Rule(1, 7),))
    await sent_before(api.database, organization, "Spring", [ADA], days_ago=5)
    return organization


async def call(api: Api, method: str, path: str, body: Any = None) -> Any:
    return await api.call("acme_admin", method, path, json=body)


async def deferring(api: Api, name: str, recipients: list[str], deadline: datetime) -> int:
    """A campaign of acme that defers capped recipients until ``deadline``, created and
    executed at NOW."""
    with clock_at(NOW):
        created = await api.create(
            name=name,
            recipients=recipients,
            cappedRecipients="defer",
            deferUntil=iso(deadline),
        )
        assert created["cappedRecipients"] == "defer"
        assert instant(created["deferUntil"]) == deadline
        response = await call(api, "POST", f"/campaigns/{created['id']}/execute")
        assert response.status_code == 202, response.text
    return int(created["id"])


async def pass_at(api: Api, settings: Settings, smtp: SmtpServer, moment: datetime) -> None:
    """The scheduler and a worker each drain what is due at ``moment``."""
    with clock_at(moment):
        await scheduler_for(api.database, settings).run_burst()
        sending = settings.model_copy(update={"email_transport": smtp.url})
        await worker(api.database, sending).run_burst()
        await scheduler_for(api.database, settings).run_burst()


def sent_to(smtp: SmtpServer, email: str) -> int:
    return sum(1 for message in smtp.messages if message.recipients == [email])


async def read(api: Api, campaign_id: int, moment: datetime) -> dict[str, Any]:
    with clock_at(moment):
        response = await call(api, "GET", f"/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def entries_of(api: Api, email: str) -> dict[str, datetime]:
    """ada@'s ledger entries: campaign name -> the instant it counts from."""
    rows = await api.rows(ledger_entries, ledger_entries.c.email == email)
    return {str(row["campaign_name"]): row["contacted_at"] for row in rows}


async def test_a_deferred_delivery_goes_out_when_the_rule_frees_a_slot(
    api: Api, settings: Settings
) -> None:
    await weekly_rule_and_spring(api)
    campaign_id = await deferring(api, "Winter", [ADA, CY], NOW + timedelta(days=10))
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, NOW + timedelta(seconds=1))
        assert (sent_to(smtp, CY), sent_to(smtp, ADA)) == (1, 0)

        rows = await deliveries_of(api.database, campaign_id)
        assert rows[ADA]["status"] == "queued"
        assert rows[ADA]["code"] == "deferred"
        assert rows[ADA]["due_at"] == SPRING_FREES
        assert rows[ADA]["reason"] == (
            "deferred until 2026-10-31T12:00:00Z: received 'Spring' 5 days ago"
            " (at most 1 per 7 days)"
        )
        # the reservation counts from the instant it goes out, not from the fan-out
        assert (await entries_of(api, ADA))["Winter"] == SPRING_FREES
        held = await api.rows(cooldown_ledger, cooldown_ledger.c.email == ADA)
        assert (held[0]["campaign_name"], held[0]["contacted_at"]) == ("Winter", SPRING_FREES)

        shown = await read(api, campaign_id, NOW + timedelta(hours=1))
        assert shown["status"] == "sending"
        assert shown["waiting"] == "waiting for 1 deferred recipient, due at 2026-10-31 12:00 UTC"
        assert instant(shown["waitingUntil"]) == SPRING_FREES
        with clock_at(NOW + timedelta(hours=1)):
            log = (await call(api, "GET", "/campaigns/execution-log")).json()
        run = next(item for item in log["executions"] if item["campaignId"] == campaign_id)
        assert run["waiting"] == shown["waiting"]

        await pass_at(api, settings, smtp, SPRING_FREES - timedelta(minutes=1))
        assert sent_to(smtp, ADA) == 0  # a minute early: not yet
        await pass_at(api, settings, smtp, SPRING_FREES + timedelta(milliseconds=200))
        assert sent_to(smtp, ADA) == 1
        await pass_at(api, settings, smtp, SPRING_FREES + timedelta(days=1))
        assert (sent_to(smtp, CY), sent_to(smtp, ADA)) == (1, 1)  # each once

    rows = await deliveries_of(api.database, campaign_id)
    assert rows[ADA]["status"] == "sent"
    assert rows[ADA]["sent_at"] >= SPRING_FREES
    shown = await read(api, campaign_id, SPRING_FREES + timedelta(days=1))
    assert (shown["status"], shown["waiting"]) == ("sent", None)


async def test_later_campaigns_count_the_deferred_message(api: Api, settings: Settings) -> None:
    await weekly_rule_and_spring(api)
    await deferring(api, "Winter", [ADA], NOW + timedelta(days=10))
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, NOW + timedelta(seconds=1))

        # a day later, before Winter's message goes out: a campaign that skips finds ada@
        # capped by it, and one that defers waits a week after it
        later = NOW + timedelta(days=1)
        with clock_at(later):
            sale = await api.create(name="Sale", recipients=[ADA])
            await call(api, "POST", f"/campaigns/{sale['id']}/execute")
            patient = await api.create(
                name="Patient",
                recipients=[ADA],
                cappedRecipients="defer",
                deferUntil=iso(NOW + timedelta(days=30)),
            )
            await call(api, "POST", f"/campaigns/{patient['id']}/execute")
        await pass_at(api, settings, smtp, later + timedelta(seconds=1))
        assert sent_to(smtp, ADA) == 0

    skipped = (await deliveries_of(api.database, int(sale["id"])))[ADA]
    assert (skipped["status"], skipped["code"]) == ("skipped", "cooldown")
    assert skipped["reason"] == (
        "reserved for 'Winter' on 2026-10-31 (deferred); eligible again on 2026-11-07"
    )
    waiting = (await deliveries_of(api.database, int(patient["id"])))[ADA]
    assert (waiting["status"], waiting["code"]) == ("queued", "deferred")
    assert waiting["due_at"] == SPRING_FREES + timedelta(days=7)
    assert str(waiting["reason"]).startswith("deferred until 2026-11-07T12:00:00Z: ")
    assert "among them 'Winter' on 2026-10-31 (deferred) (at most 1 per 7 days)" in str(
        waiting["reason"]
    )
    assert await entries_of(api, ADA) == {
        "Spring": NOW - timedelta(days=5),
        "Winter": SPRING_FREES,
        "Patient": SPRING_FREES + timedelta(days=7),
    }


async def test_a_recipient_not_free_before_the_deadline_is_skipped(
    api: Api, settings: Settings
) -> None:
    await weekly_rule_and_spring(api)
    campaign_id = await deferring(api, "Winter", [ADA, CY], NOW + timedelta(days=1))
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, NOW + timedelta(seconds=1))
        await pass_at(api, settings, smtp, SPRING_FREES + timedelta(seconds=1))
        assert (sent_to(smtp, CY), sent_to(smtp, ADA)) == (1, 0)
    rows = await deliveries_of(api.database, campaign_id)
    assert (rows[ADA]["status"], rows[ADA]["code"]) == ("skipped", "cooldown")
    assert rows[ADA]["reason"] == (
        "received 'Spring' 5 days ago (at most 1 per 7 days); could go out at"
        " 2026-10-31T12:00:00Z, after the deferral deadline 2026-10-30T12:00:00Z"
    )
    assert "Winter" not in await entries_of(api, ADA)
    assert (await read(api, campaign_id, NOW + timedelta(seconds=2)))["status"] == "sent"


async def test_a_campaign_paused_past_the_deadline_never_sends_the_deferred(
    api: Api, settings: Settings
) -> None:
    await weekly_rule_and_spring(api)
    deadline = NOW + timedelta(days=3)
    campaign_id = await deferring(api, "Winter", [ADA, CY], deadline)
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, NOW + timedelta(seconds=1))
        with clock_at(NOW + timedelta(days=1)):
            assert (await call(api, "POST", f"/campaigns/{campaign_id}/pause")).status_code == 200
        await pass_at(api, settings, smtp, SPRING_FREES + timedelta(seconds=1))  # paused
        assert sent_to(smtp, ADA) == 0

        resumed = deadline + timedelta(hours=1)
        with clock_at(resumed):
            assert (await call(api, "POST", f"/campaigns/{campaign_id}/resume")).status_code == 200
        # before the scheduler's sweep, no worker claims it: the deadline has passed
        async with api.database.transaction() as connection:
            claimed = await queue.claim_batch(
                connection, campaign_id, owner="w", limit=10, now=resumed, lease_seconds=30
            )
        assert claimed == []
        await pass_at(api, settings, smtp, resumed + timedelta(seconds=1))
        assert (sent_to(smtp, CY), sent_to(smtp, ADA)) == (1, 0)

    rows = await deliveries_of(api.database, campaign_id)
    assert (rows[ADA]["status"], rows[ADA]["code"]) == ("skipped", "cooldown")
    assert rows[ADA]["reason"] == (
        "deferred, but not sent by the deferral deadline 2026-11-01T12:00:00Z"
    )
    assert "Winter" not in await entries_of(api, ADA)  # its slot given back
    held = await api.rows(cooldown_ledger, cooldown_ledger.c.email == ADA)
    assert held[0]["campaign_name"] == "Spring"
    assert (await read(api, campaign_id, resumed + timedelta(seconds=2)))["status"] == "sent"


async def test_a_deferred_instant_outside_the_send_window_waits_for_its_opening(
    api: Api, settings: Settings
) -> None:
    await weekly_rule_and_spring(api)
    window = {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
    with clock_at(NOW):  # Thursday 29 October 2026, 12:00 UTC
        created = await api.create(
            name="Winter",
            recipients=[ADA],
            sendWindow=window,
            cappedRecipients="defer",
            deferUntil=iso(NOW + timedelta(days=10)),
        )
        await call(api, "POST", f"/campaigns/{created['id']}/execute")
    with clock_at(NOW + timedelta(seconds=1)):
        await scheduler_for(api.database, settings).run_burst()
    row = (await deliveries_of(api.database, int(created["id"])))[ADA]
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Saturday 12:00 is outside it
    assert (row["status"], row["code"]) == ("queued", "deferred")
    assert (row["due_at"], row["window_closes_at"]) == (monday, monday.replace(hour=17))
    assert row["reason"].startswith("deferred until 2026-11-02T09:00:00Z: ")
    assert (await entries_of(api, ADA))["Winter"] == monday


async def test_the_preview_says_who_is_deferred_and_until_when(api: Api) -> None:
    organization = await weekly_rule_and_spring(api)
    await sent_before(api.database, organization, "Flash", [BOB], days_ago=1)
    with clock_at(NOW):
        created = await api.create(
            name="Winter",
            recipients=[ADA, BOB, CY],
            cappedRecipients="defer",
            deferUntil=iso(NOW + timedelta(days=5)),
        )
        response = await call(api, "POST", f"/campaigns/{created['id']}/preview")
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["totalRecipients"], preview["eligible"], preview["ineligible"]) == (3, 2, 1)
    assert preview["deferred"] == 1
    assert instant(preview["deferUntil"]) == NOW + timedelta(days=5)
    assert {
        reason["email"]: (reason["code"], reason["reason"]) for reason in preview["reasons"]
    } == {
        ADA: (
            "deferred",
            "deferred until 2026-10-31T12:00:00Z: received 'Spring' 5 days ago"
            " (at most 1 per 7 days)",
        ),
        BOB: (
            "cooldown",
            "received 'Flash' 1 day ago (at most 1 per 7 days); could go out at"
            " 2026-11-04T12:00:00Z, after the deferral deadline 2026-11-03T12:00:00Z",
        ),
    }
    with clock_at(NOW):  # the same campaign skipping: both left out, nobody deferred
        await call(api, "PATCH", f"/campaigns/{created['id']}", {"cappedRecipients": "skip"})
        skipping = (await call(api, "POST", f"/campaigns/{created['id']}/preview")).json()
    assert (skipping["eligible"], skipping["ineligible"], skipping["deferred"]) == (1, 2, 0)
    assert skipping["deferUntil"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cappedRecipients": "defer"}, "deferUntil: required"),
        ({"cappedRecipients": "later", "deferUntil": "2026-11-05T12:00:00Z"}, "cappedRecipients"),
        ({"deferUntil": "2026-11-05T12:00:00Z"}, "deferUntil: goes with cappedRecipients defer"),
        ({"cappedRecipients": "defer", "deferUntil": "2026-10-28T12:00:00Z"}, "not after now"),
        ({"cappedRecipients": "defer", "deferUntil": "2026-11-05T12:00:00"}, "deferUntil"),
        ({"cappedRecipients": "defer", "deferUntil": "2027-12-01T12:00:00Z"}, "at most 366 days"),
    ],
)
async def test_bad_deferrals_are_refused_by_field_and_change_nothing(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    with clock_at(NOW):
        campaign_id = int((await api.create(recipients=[ADA]))["id"])
        before = await api.snapshot()
        body = {"name": "X", "subject": "Y", "textBody": "Hi", **fields}
        created = await call(api, "POST", "/campaigns", body)
        edited = await call(api, "PATCH", f"/campaigns/{campaign_id}", fields)
    for response in (created, edited):
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"], response.text
    assert await api.snapshot() == before


async def test_editing_scheduling_and_cloning_keep_the_deadline_in_step(api: Api) -> None:
    deadline = NOW + timedelta(days=5)
    with clock_at(NOW):
        campaign_id = int((await api.create(recipients=[ADA]))["id"])
        assert (await call(api, "GET", f"/campaigns/{campaign_id}")).json()[
            "cappedRecipients"
        ] == "skip"
        body = {"cappedRecipients": "defer", "deferUntil": iso(deadline)}
        edited = (await call(api, "PATCH", f"/campaigns/{campaign_id}", body)).json()
        assert (edited["cappedRecipients"], instant(edited["deferUntil"])) == ("defer", deadline)
        later = iso(deadline + timedelta(days=1))
        moved = await call(api, "PATCH", f"/campaigns/{campaign_id}", {"deferUntil": later})
        assert instant(moved.json()["deferUntil"]) == deadline + timedelta(days=1)

        # a start at or after the deadline is refused
        late = await call(
            api, "POST", f"/campaigns/{campaign_id}/schedule", {"scheduledFor": later}
        )
        assert late.status_code == 422, late.text
        assert "deferUntil: the deferral deadline" in late.json()["detail"]

        copy = (await call(api, "POST", f"/campaigns/{campaign_id}/clone")).json()
        assert copy["cappedRecipients"] == "defer"
        assert instant(copy["deferUntil"]) == deadline + timedelta(days=1)

        # a deadline before the start it is created with
        early = await call(
            api,
            "POST",
            "/campaigns",
            {
                "name": "X",
                "subject": "Y",
                "textBody": "Hi",
                "cappedRecipients": "defer",
                "deferUntil": iso(deadline),
                "scheduledFor": iso(deadline + timedelta(days=1)),
            },
        )
        assert early.status_code == 422, early.text
        assert early.json()["detail"] == (
            "deferUntil: 2026-11-03T12:00:00Z is not after the campaign's start,"
            " 2026-11-04T12:00:00Z; choose a later deadline"
        )

        skipped = (
            await call(api, "PATCH", f"/campaigns/{campaign_id}", {"cappedRecipients": "skip"})
        ).json()
        assert (skipped["cappedRecipients"], skipped["deferUntil"]) == ("skip", None)

        other = await api.call("globex_admin", "PATCH", f"/campaigns/{campaign_id}", json=body)
        assert other.status_code == 404
        assert (await call(api, "POST", f"/campaigns/{campaign_id}/execute")).status_code == 202
        sending = await call(api, "PATCH", f"/campaigns/{campaign_id}", body)
        assert sending.status_code == 409, sending.text
