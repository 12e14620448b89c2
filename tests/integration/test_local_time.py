"""Local-time delivery and send windows, end to end on a controllable clock: the API
schedules, the scheduler starts and fans out, workers send to a real SMTP server, and the
clock (``shifted_clock``) jumps to each wave instead of waiting for it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import deliveries_of, worker
from tests.integration.scheduling_helpers import scheduler_for
from tests.integration.shifted_clock import clock_at
from tests.integration.smtp_server import TRY_LATER, SmtpServer
from tests.integration.targeting_support import add_contacts, add_list

ZONED = [
    {"email": "tokyo@example.org", "vars": {"timezone": "Asia/Tokyo"}},
    {"email": "berlin@example.org", "vars": {"timezone": "Europe/Berlin"}},
    {"email": "mars@example.org", "vars": {"timezone": "Mars/Olympus"}},
    "plain@example.org",
    {"email": "newyork@example.org", "vars": {"timezone": "America/New_York"}},
]


def utc(*parts: int, microsecond: int = 0) -> datetime:
    return datetime(*parts, microsecond=microsecond, tzinfo=UTC)  # type: ignore[misc]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def read(api: Api, campaign_id: int) -> dict[str, Any]:
    response = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def post(api: Api, path: str, body: Any = None, who: str = "acme_admin") -> Any:
    return await api.call(who, "POST", path, json=body)


async def pass_at(api: Api, settings: Settings, smtp: SmtpServer, moment: datetime) -> None:
    """The scheduler and a worker each drain what is due at ``moment``."""
    with clock_at(moment):
        await scheduler_for(api.database, settings).run_burst()
        sending = settings.model_copy(update={"email_transport": smtp.url})
        await worker(api.database, sending).run_burst()
        await scheduler_for(api.database, settings).run_burst()


def sent_to(smtp: SmtpServer) -> set[str]:
    return {message.recipients[0] for message in smtp.messages}


async def test_three_zones_get_three_waves_across_a_dst_change(
    api: Api, settings: Settings
) -> None:
    # 2027-03-28: Europe moves to summer time at 01:00 UTC, New York moved on 03-14
    created = await api.create(recipients=ZONED)
    campaign_id = int(created["id"])
    response = await post(
        api,
        f"/campaigns/{campaign_id}/schedule",
        {"localTime": "2027-03-28T09:00", "timezone": "Europe/Berlin"},
    )
    assert response.status_code == 200, response.text
    scheduled = response.json()
    assert instant(scheduled["scheduledFor"]) == utc(2027, 3, 28, 0, 0)  # the earliest wave
    assert scheduled["localTime"] == "2027-03-28T09:00"
    assert [
        (wave["zone"], wave["localTime"], instant(wave["at"]), wave["recipients"])
        for wave in scheduled["waves"]
    ] == [
        ("Asia/Tokyo", "2027-03-28T09:00", utc(2027, 3, 28, 0, 0), 1),
        ("Europe/Berlin", "2027-03-28T09:00", utc(2027, 3, 28, 7, 0), 3),  # +02:00 that day
        ("America/New_York", "2027-03-28T09:00", utc(2027, 3, 28, 13, 0), 1),
    ]
    preview = (await post(api, f"/campaigns/{campaign_id}/preview")).json()
    assert [(zone["email"], zone["given"], zone["used"]) for zone in preview["zoneFallbacks"]] == [
        ("mars@example.org", "Mars/Olympus", "Europe/Berlin")
    ]
    upcoming = await api.call("acme_admin", "GET", "/campaigns/scheduled?hours=8784")
    listed = next(item for item in upcoming.json()["campaigns"] if item["id"] == campaign_id)
    assert (listed["firstWave"]["zone"], listed["lastWave"]["zone"]) == (
        "Asia/Tokyo",
        "America/New_York",
    )

    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, utc(2027, 3, 28, 0, 0, microsecond=200_000))
        assert sent_to(smtp) == {"tokyo@example.org"}
        shown = await read(api, campaign_id)
        assert shown["status"] == "sending"
        assert shown["waiting"] == (
            "waiting for the next wave, at 2027-03-28 09:00 Europe/Berlin (2027-03-28 07:00 UTC)"
        )

        await pass_at(api, settings, smtp, utc(2027, 3, 28, 6, 59))  # a minute early
        assert sent_to(smtp) == {"tokyo@example.org"}

        await pass_at(api, settings, smtp, utc(2027, 3, 28, 7, 0, microsecond=200_000))
        assert sent_to(smtp) == {
            "tokyo@example.org",
            "berlin@example.org",
            "mars@example.org",
            "plain@example.org",
        }

        await pass_at(api, settings, smtp, utc(2027, 3, 28, 13, 0, microsecond=200_000))
        assert len(smtp.messages) == len(ZONED)  # each once

    rows = await deliveries_of(api.database, campaign_id)
    assert rows["newyork@example.org"]["sent_at"] >= utc(2027, 3, 28, 13, 0)
    shown = await read(api, campaign_id)
    assert shown["status"] == "sent"
    assert shown["waiting"] is None
    progress = {wave["zone"]: wave for wave in shown["waves"]}
    assert {zone: wave["sent"] for zone, wave in progress.items()} == {
        "Asia/Tokyo": 1,
        "Europe/Berlin": 3,
        "America/New_York": 1,
    }
    log = (await api.call("acme_admin", "GET", "/campaigns/execution-log")).json()
    run = next(item for item in log["executions"] if item["campaignId"] == campaign_id)
    assert [(wave["zone"], wave["sent"]) for wave in run["waves"]] == [
        ("Asia/Tokyo", 1),
        ("Europe/Berlin", 3),
        ("America/New_York", 1),
    ]
    lateness = [wave["latenessSeconds"] for wave in progress.values()]
    assert all(0 <= seconds < 5 for seconds in lateness), lateness  # never early


async def test_contacts_of_a_list_get_their_waves_and_their_zone_fallbacks(
    api: Api, settings: Settings
) -> None:
    """A list's contacts are read by their ``timezone`` attribute: their waves, and the
    fallback of one naming no zone, before the start as after it."""
    async with api.database.connection() as connection:
        acme = await organization_by_slug(connection, "acme")
    assert acme is not None
    people = {
        "tokyo@example.org": {"timezone": "Asia/Tokyo"},
        "mars@example.org": {"timezone": "Mars/Olympus"},
        "plain@example.org": {},
    }
    await add_contacts(api.database, int(acme["id"]), list(people.items()))
    await add_list(api.database, int(acme["id"]), "Zones", dict.fromkeys(people, "confirmed"))
    venus = {"email": "venus@example.org", "vars": {"timezone": "Venus/Base"}}
    campaign_id = int((await api.create(lists=["Zones"], recipients=[venus]))["id"])
    scheduled = (
        await post(
            api,
            f"/campaigns/{campaign_id}/schedule",
            {"localTime": "2027-03-28T09:00", "timezone": "Europe/Berlin"},
        )
    ).json()
    assert [(wave["zone"], wave["recipients"]) for wave in scheduled["waves"]] == [
        ("Asia/Tokyo", 1),
        ("Europe/Berlin", 3),
    ]
    fallbacks = [
        ("venus@example.org", "Venus/Base", "Europe/Berlin"),  # the recipient first
        ("mars@example.org", "Mars/Olympus", "Europe/Berlin"),
    ]

    async def shown_fallbacks() -> list[tuple[str, str, str]]:
        preview = (await post(api, f"/campaigns/{campaign_id}/preview")).json()
        return [(zone["email"], zone["given"], zone["used"]) for zone in preview["zoneFallbacks"]]

    assert await shown_fallbacks() == fallbacks
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, utc(2027, 3, 28, 0, 0, microsecond=200_000))
        assert sent_to(smtp) == {"tokyo@example.org"}
    assert await shown_fallbacks() == fallbacks  # now read from the deliveries


async def test_a_delivery_is_never_claimed_before_its_instant(api: Api, settings: Settings) -> None:
    created = await api.create(recipients=ZONED[:2])
    campaign_id = int(created["id"])
    await post(api, f"/campaigns/{campaign_id}/schedule", {"localTime": "2027-01-05T09:00"})
    with clock_at(utc(2027, 1, 5, 0, 0, microsecond=1000)):
        await scheduler_for(api.database, settings).run_burst()
    berlin_wave = utc(2027, 1, 5, 8, 0)  # no timezone given: the default zone is UTC
    for moment, expected in [
        (berlin_wave - timedelta(milliseconds=5), set()),
        (berlin_wave, {"berlin@example.org"}),
    ]:
        async with api.database.transaction() as connection:
            claimed = await queue.claim_batch(
                connection, campaign_id, owner="w", limit=10, now=moment, lease_seconds=30
            )
        assert {row["email"] for row in claimed} - {"tokyo@example.org"} == expected


async def test_a_window_that_closes_mid_campaign_reopens_the_next_day(
    api: Api, settings: Settings
) -> None:
    window = {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
    recipients = [f"r{number}@example.org" for number in range(6)]
    created = await api.create(recipients=recipients, sendWindow=window)
    campaign_id = int(created["id"])
    assert created["sendWindow"] == window
    slow = {"r4@example.org", "r5@example.org"}
    settings = settings.model_copy(update={"retry_backoff": 30.0})
    with SmtpServer() as smtp:
        smtp.fail_addresses(slow, TRY_LATER, times=2, stage="rcpt")
        # Friday 2026-12-11, 16:59:50 UTC: two recipients are refused for now (retried later)
        with clock_at(utc(2026, 12, 11, 16, 59, 50)):
            assert (await post(api, f"/campaigns/{campaign_id}/execute")).status_code == 202
        await pass_at(api, settings, smtp, utc(2026, 12, 11, 16, 59, 51))
        assert sent_to(smtp) == set(recipients) - slow

        await pass_at(api, settings, smtp, utc(2026, 12, 11, 17, 0, 30))  # retry due, window shut
        assert sent_to(smtp) == set(recipients) - slow
        with clock_at(utc(2026, 12, 11, 17, 0, 31)):
            shown = await read(api, campaign_id)
        assert shown["status"] == "sending"
        assert shown["waiting"] == (
            "waiting for the send window, next opens at 2026-12-14 09:00 UTC (2026-12-14 09:00 UTC)"
        )
        assert instant(shown["waitingUntil"]) == utc(2026, 12, 14, 9, 0)

        # pause and resume over the weekend: still waiting for Monday's window
        assert (await post(api, f"/campaigns/{campaign_id}/pause")).status_code == 200
        await pass_at(api, settings, smtp, utc(2026, 12, 12, 10, 0))
        assert (await post(api, f"/campaigns/{campaign_id}/resume")).status_code == 200
        await pass_at(api, settings, smtp, utc(2026, 12, 13, 10, 0))  # Sunday: closed
        assert sent_to(smtp) == set(recipients) - slow

        await pass_at(api, settings, smtp, utc(2026, 12, 14, 9, 0, 1))
        assert sent_to(smtp) == set(recipients)
    assert (await read(api, campaign_id))["status"] == "sent"


async def test_cancel_while_waiting_for_a_wave(api: Api, settings: Settings) -> None:
    created = await api.create(recipients=ZONED)
    campaign_id = int(created["id"])
    await post(api, f"/campaigns/{campaign_id}/schedule", {"localTime": "2027-01-05T09:00"})
    with SmtpServer() as smtp:
        await pass_at(api, settings, smtp, utc(2027, 1, 5, 0, 0, 1))
        assert sent_to(smtp) == {"tokyo@example.org"}
        assert (await post(api, f"/campaigns/{campaign_id}/cancel")).status_code == 200
        await pass_at(api, settings, smtp, utc(2027, 1, 5, 20, 0))
        assert sent_to(smtp) == {"tokyo@example.org"}
    rows = await deliveries_of(api.database, campaign_id)
    assert {email: row["status"] for email, row in rows.items()} == {
        "tokyo@example.org": "sent",
        "berlin@example.org": "cancelled",
        "mars@example.org": "cancelled",
        "plain@example.org": "cancelled",
        "newyork@example.org": "cancelled",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"localTime": "2027-01-05T09:00+01:00"}, "localTime"),
        ({"localTime": "soon"}, "localTime"),
        ({"localTime": "2027-01-05T09:00", "timezone": "Mars/Olympus"}, "timezone"),
        ({"localTime": "2020-01-05T09:00"}, "localTime"),
        ({"localTime": "2027-01-05T09:00", "scheduledFor": "2027-01-05T09:00:00Z"}, "scheduledFor"),
        ({"scheduledFor": "2027-01-05T09:00:00Z", "timezone": "Europe/Berlin"}, "timezone"),
    ],
)
async def test_bad_local_times_are_refused_by_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    campaign_id = int((await api.create(recipients=ZONED))["id"])
    before = await api.snapshot()
    response = await post(api, f"/campaigns/{campaign_id}/schedule", body)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert await api.snapshot() == before


async def test_bad_send_windows_are_refused_and_another_organization_sees_nothing(
    api: Api,
) -> None:
    response = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json={
            "name": "N",
            "subject": "S",
            "textBody": "T",
            "sendWindow": {"start": "20:00", "end": "08:00"},
        },
    )
    assert response.status_code == 422
    assert "sendWindow.end" in response.text
    campaign_id = int((await api.create(recipients=ZONED))["id"])
    other = await api.call(
        "globex_admin",
        "POST",
        f"/campaigns/{campaign_id}/schedule",
        json={"localTime": "2027-01-05T09:00"},
    )
    assert other.status_code == 404
    edited = await api.call(
        "acme_admin",
        "PATCH",
        f"/campaigns/{campaign_id}",
        json={"sendWindow": {"start": "08:00", "end": "20:00"}},
    )
    assert edited.status_code == 200
    assert edited.json()["sendWindow"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def worker_process(database_url: str, smtp: SmtpServer, moment: datetime) -> str:
    """``campaignd serve --role worker --burst`` in its own process, its clock at ``moment``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}
    env |= {
        "CAMPAIGND_DATABASE_URL": database_url,
        "CAMPAIGND_EMAIL_TRANSPORT": smtp.url,
        "CAMPAIGND_LOG_FORMAT": "text",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    command = [sys.executable, "-m", "tests.integration.shifted_clock", moment.isoformat()]
    result = subprocess.run(
        [*command, "serve", "--role", "worker", "--burst"],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


async def test_worker_processes_never_claim_a_wave_early(
    api: Api, settings: Settings, database_url: str
) -> None:
    created = await api.create(recipients=ZONED)
    campaign_id = int(created["id"])
    await post(api, f"/campaigns/{campaign_id}/schedule", {"localTime": "2027-01-05T09:00"})
    with clock_at(utc(2027, 1, 5, 0, 0, 1)):  # Tokyo's wave: the campaign starts
        await scheduler_for(api.database, settings).run_burst()
    with SmtpServer() as smtp:
        url = database_url
        for moment, expected in [
            (utc(2027, 1, 5, 7, 59, 0), {"tokyo@example.org"}),  # Berlin's wave in a minute
            (
                utc(2027, 1, 5, 8, 0, 0, microsecond=300_000),
                {"tokyo@example.org", "berlin@example.org"},
            ),
        ]:
            await asyncio.to_thread(worker_process, url, smtp, moment)
            assert sent_to(smtp) == expected, moment
        await asyncio.to_thread(worker_process, url, smtp, utc(2027, 1, 5, 14, 0, 1))
        assert len(smtp.messages) == len(ZONED)  # the UTC wave (09:00) and New York's (14:00)


async def test_a_clone_keeps_the_send_window_but_not_the_local_time(api: Api) -> None:
    window = {"start": "08:00", "end": "20:00", "days": ["mon", "tue"]}
    campaign_id = int((await api.create(recipients=ZONED, sendWindow=window))["id"])
    await post(api, f"/campaigns/{campaign_id}/schedule", {"localTime": "2027-01-05T09:00"})
    copy = (await post(api, f"/campaigns/{campaign_id}/clone")).json()
    assert copy["sendWindow"] == window
    assert (copy["status"], copy["localTime"], copy["scheduledFor"]) == ("draft", None, None)
