"""The scheduler on real SQLite and PostgreSQL: on time, once, misfires, fan-out, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from campaignd.domain.lifecycle import Action, CampaignStatus, Trigger
from campaignd.scheduling import Scheduler
from campaignd.scheduling import scheduler as scheduler_module
from campaignd.settings import Settings
from campaignd.store import campaigns, runs
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import deliveries, suppressions
from campaignd.wakeups import LocalWakeups
from tests.integration.scheduling_helpers import (
    campaign,
    delivery_states,
    execute_now,
    make_campaign,
    make_organization,
    runs_of,
    scheduler_for,
    soon,
    wait_until,
)


@asynccontextmanager
async def running(scheduler: Scheduler) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def has_run(database: Database, campaign_id: int) -> bool:
    return bool(await runs_of(database, campaign_id))


async def test_due_campaign_starts_once_and_is_fanned_out(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-2))
    scheduler = scheduler_for(database, settings)

    report = await scheduler.tick()
    again = await scheduler.tick()

    assert report.started == [campaign_id] and report.fanned_out == [campaign_id]
    assert again.started == [] and again.fanned_out == []
    [run] = await runs_of(database, campaign_id)
    assert run["trigger"] == Trigger.SCHEDULE.value and run["actor"] == "scheduler"
    assert run["live"] and 2 <= run["lateness_seconds"] < 10
    assert run["recipient_count"] == 2 and run["queued"] == 2
    row = await campaign(database, campaign_id)
    assert row["status"] == CampaignStatus.SENDING.value and row["fanned_out_at"] is not None
    assert {d["status"] for d in (await delivery_states(database, campaign_id)).values()} == {
        "queued"
    }


async def test_future_campaign_waits(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(3600))

    report = await scheduler_for(database, settings).tick()

    assert not report.progressed
    assert (await campaign(database, campaign_id))["status"] == CampaignStatus.SCHEDULED.value


async def test_run_wakes_at_the_due_time(database: Database, settings: Settings) -> None:
    """With a 30 s interval, only waking at the due time can start it within a second."""
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(1.0))
    scheduler = scheduler_for(database, settings, scheduler_interval=30.0)

    async with running(scheduler):
        await wait_until(lambda: has_run(database, campaign_id), timeout=5)

    [run] = await runs_of(database, campaign_id)
    assert 0 <= run["lateness_seconds"] < 1.0


async def test_run_wakes_when_notified(database: Database, settings: Settings) -> None:
    """A campaign scheduled while the scheduler sleeps: the wake-up makes it see the new time."""
    organization = await make_organization(database)
    wakeups = LocalWakeups()
    scheduler = scheduler_for(database, settings, wakeups=wakeups, scheduler_interval=30.0)

    async with running(scheduler):
        await wait_until(lambda: asyncio.sleep(0, scheduler.lock.is_leader))
        campaign_id = await make_campaign(database, organization, scheduled_for=soon(0.5))
        await wakeups.notify("scheduler")
        await wait_until(lambda: has_run(database, campaign_id), timeout=5)

    [run] = await runs_of(database, campaign_id)
    assert 0 <= run["lateness_seconds"] < 1.0


async def test_overdue_beyond_grace_becomes_missed(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-3600))
    scheduler = scheduler_for(database, settings, misfire_grace=600)

    report = await scheduler.tick()

    assert report.missed == [campaign_id] and report.started == []
    row = await campaign(database, campaign_id)
    assert row["status"] == CampaignStatus.MISSED.value and "missed" in row["status_reason"]
    assert await runs_of(database, campaign_id) == []
    async with database.connection() as connection:
        upcoming = await campaigns.upcoming_campaigns(connection, until=soon(86400))
    assert campaign_id not in [c["id"] for c in upcoming]


async def test_missed_campaign_can_be_executed(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-3600))
    scheduler = scheduler_for(database, settings, misfire_grace=60)
    await scheduler.tick()

    run = await execute_now(database, campaign_id)
    report = await scheduler.tick()

    assert run is not None and run["trigger"] == "manual" and run["actor"] == "alice"
    assert run["lateness_seconds"] is None
    assert report.fanned_out == [campaign_id]


async def test_missed_campaign_can_be_scheduled_again(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-3600))
    scheduler = scheduler_for(database, settings, misfire_grace=60)
    await scheduler.tick()
    async with database.transaction() as connection:
        again = await campaigns.transition(
            connection, campaign_id, Action.SCHEDULE, scheduled_for=soon(-1)
        )

    report = await scheduler.tick()

    assert again is not None and report.started == [campaign_id]


async def test_overdue_within_grace_starts_late(database: Database, settings: Settings) -> None:
    """After a stopped service: due 5 minutes ago, grace 10 minutes: starts, lateness recorded."""
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-300))

    report = await scheduler_for(database, settings, misfire_grace=600).tick()

    assert report.started == [campaign_id]
    [run] = await runs_of(database, campaign_id)
    assert 300 <= run["lateness_seconds"] < 310


async def test_executed_campaign_is_fanned_out_by_burst(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization)
    await execute_now(database, campaign_id)

    await scheduler_for(database, settings).run_burst()

    row = await campaign(database, campaign_id)
    assert row["fanned_out_at"] is not None and row["status"] == CampaignStatus.SENDING.value


async def test_paused_before_fan_out_is_fanned_out_and_stays_paused(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization)
    await execute_now(database, campaign_id)
    async with database.transaction() as connection:
        await campaigns.transition(connection, campaign_id, Action.PAUSE)

    report = await scheduler_for(database, settings).tick()

    assert report.fanned_out == [campaign_id]
    assert (await campaign(database, campaign_id))["status"] == CampaignStatus.PAUSED.value


async def test_campaign_with_nobody_to_mail_finishes_at_fan_out(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-1))
    async with database.transaction() as connection:
        await connection.execute(
            insert(suppressions),
            [
                {"organization_id": organization, "email": email, "reason": "unsubscribed"}
                | {"created_at": utcnow()}
                for email in ("a@example.org", "b@example.org")
            ],
        )

    report = await scheduler_for(database, settings).tick()

    assert report.finished == [campaign_id]
    row = await campaign(database, campaign_id)
    assert row["status"] == CampaignStatus.SENT.value
    [run] = await runs_of(database, campaign_id)
    assert not run["live"] and run["skipped"] == 2 and run["finished_at"] is not None


async def test_campaign_whose_deliveries_are_final_is_finished(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-1))
    scheduler = scheduler_for(database, settings)
    await scheduler.tick()
    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries)
            .where(deliveries.c.campaign_id == campaign_id)
            .values(status="sent", sent_at=utcnow())
        )

    report = await scheduler.tick()

    assert report.finished == [campaign_id]
    [run] = await runs_of(database, campaign_id)
    assert run["status"] == "sent" and run["sent"] == 2 and not run["live"]


async def break_fan_out_of(database: Database, campaign_name: str, error: str) -> None:
    """A real failure: the database refuses to reserve addresses for ``campaign_name``."""
    async with database.transaction() as connection:
        if database.is_sqlite:
            await connection.exec_driver_sql(
                "CREATE TRIGGER broken_fan_out BEFORE INSERT ON cooldown_ledger "
                f"WHEN NEW.campaign_name = '{campaign_name}' "
                f"BEGIN SELECT RAISE(ABORT, '{error}'); END"
            )
            return
        await connection.exec_driver_sql(
            "CREATE FUNCTION broken_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.campaign_name = '{campaign_name}' THEN RAISE EXCEPTION '{error}'; END IF; "
            "RETURN NEW; END $$"
        )
        await connection.exec_driver_sql(
            "CREATE TRIGGER broken_fan_out BEFORE INSERT ON cooldown_ledger "
            "FOR EACH ROW EXECUTE FUNCTION broken_fan_out()"
        )


async def test_failing_fan_out_closes_its_run_with_the_error(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    failing = await make_campaign(database, organization, name="Broken", scheduled_for=soon(-1))
    scheduler = scheduler_for(database, settings)
    await break_fan_out_of(database, "Broken", "the disk is full")

    reports = [await scheduler.tick() for _ in range(scheduler_module.MAX_FANOUT_FAILURES)]

    assert all(report.errors == 1 for report in reports)
    assert reports[-1].failed == [failing]
    row = await campaign(database, failing)
    assert (
        row["status"] == CampaignStatus.FAILED.value and "the disk is full" in row["status_reason"]
    )
    async with database.connection() as connection:
        [logged] = await runs.execution_log(connection)
    assert logged["campaign_id"] == failing and not logged["live"]
    assert logged["status"] == "failed" and "the disk is full" in logged["error"]


async def test_an_error_in_one_campaign_does_not_stop_the_others(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    broken_id = await make_campaign(database, organization, name="Broken", scheduled_for=soon(-2))
    healthy_id = await make_campaign(database, organization, name="Fine", scheduled_for=soon(-1))
    await break_fan_out_of(database, "Broken", "broken ledger")

    report = await scheduler_for(database, settings).tick()

    assert report.started == [broken_id, healthy_id]
    assert report.fanned_out == [healthy_id] and report.errors == 1


@pytest.mark.parametrize(
    "status",
    sorted(
        set(CampaignStatus)
        - {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.MISSED}
    ),
)
async def test_execute_now_is_refused_unless_draft_scheduled_or_missed(
    database: Database, status: CampaignStatus
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization)
    async with database.transaction() as connection:
        await connection.execute(
            update(campaigns.campaigns)
            .where(campaigns.campaigns.c.id == campaign_id)
            .values(status=status.value)
        )

    assert await execute_now(database, campaign_id) is None
    assert (await campaign(database, campaign_id))["status"] == status.value
    assert await runs_of(database, campaign_id) == []


async def test_two_executes_make_one_run(database: Database) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(60))

    results = await asyncio.gather(*(execute_now(database, campaign_id) for _ in range(4)))

    assert sum(result is not None for result in results) == 1
    assert len(await runs_of(database, campaign_id)) == 1


async def test_scheduled_start_and_execute_race_make_one_run(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, scheduled_for=soon(-1))

    await asyncio.gather(
        scheduler_for(database, settings).tick(), execute_now(database, campaign_id)
    )

    assert len(await runs_of(database, campaign_id)) == 1


async def test_burst_drains_many_due_campaigns(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    due = [
        await make_campaign(
            database,
            organization,
            name=f"Campaign {number}",
            emails=[f"c{number}@example.org"],
            scheduled_for=soon(-1) - timedelta(seconds=number),
        )
        for number in range(12)
    ]

    await scheduler_for(database, settings).run_burst()

    for campaign_id in due:
        assert len(await runs_of(database, campaign_id)) == 1
        assert (await campaign(database, campaign_id))["fanned_out_at"] is not None
