"""Retention: ``campaignd prune`` and the scheduler's daily prune delete the delivery rows of
campaigns finished long ago; counts, runs and the cooldown stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from campaignd.cli import app
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import audit_log, campaigns, deliveries
from tests.integration.delivery_support import (
    campaign_of,
    deliveries_of,
    latest_run,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.scheduling_helpers import make_campaign, scheduler_for, soon, wait_until


async def sent_campaign(
    database: Database, settings: Settings, recipients: list[str], *, days_ago: float, name: str
) -> int:
    """A campaign of acme sent to ``recipients`` and finished ``days_ago`` days ago."""
    async with database.connection() as connection:
        found = await organization_by_slug(connection, "acme")
    organization_id = await organization(database) if found is None else int(found["id"])
    campaign_id = await sending_campaign(
        database, settings, recipients, organization_id=organization_id, name=name
    )
    await worker(database, settings).run_burst()
    await scheduler_for(database, settings).run_burst()
    assert (await campaign_of(database, campaign_id))["status"] == "sent"
    async with database.transaction() as connection:
        await connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(finished_at=utcnow() - timedelta(days=days_ago))
        )
    return campaign_id


async def rows_of(database: Database, campaign_id: int) -> int:
    async with database.connection() as connection:
        statement = select(func.count()).where(deliveries.c.campaign_id == campaign_id)
        return int((await connection.execute(statement)).scalar_one())


def prune(database_url: str, *arguments: str) -> str:
    result = CliRunner().invoke(app, ["prune", *arguments])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture
def cli_environment(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", database_url)
    monkeypatch.delenv("CAMPAIGND_REDIS_URL", raising=False)
    monkeypatch.delenv("CAMPAIGND_RETENTION_DAYS", raising=False)


async def test_prune_deletes_old_rows_and_keeps_counts_runs_and_the_cooldown(
    database: Database, settings: Settings, database_url: str, cli_environment: None
) -> None:
    people = [f"person{number}@example.org" for number in range(25)]
    old = await sent_campaign(database, settings, people, days_ago=200, name="old")
    recent = await sent_campaign(
        database, settings, ["recent@example.org"], days_ago=10, name="recent"
    )
    counts_before = (await campaign_of(database, old))["status"], await deliveries_of(database, old)
    run_before = await latest_run(database, old)

    dry = await asyncio.to_thread(prune, database_url, "--older-than", "180d", "--dry-run")
    assert "would delete 25 delivery rows of 1 campaign finished before" in dry
    assert f"campaign {old} 'old': 25 delivery rows" in dry
    assert await rows_of(database, old) == 25

    done = await asyncio.to_thread(prune, database_url, "--older-than", "180d")
    assert "deleted 25 delivery rows of 1 campaign" in done
    assert await rows_of(database, old) == 0
    assert await rows_of(database, recent) == 1
    kept = await campaign_of(database, old)
    assert kept["status"] == counts_before[0] == "sent"
    assert kept["pruned_counts"] == {"sent": 25}
    assert await latest_run(database, old) == run_before

    again = await asyncio.to_thread(prune, database_url, "--older-than", "180d")
    assert "nothing to prune" in again

    # the cooldown still holds for everyone whose row is gone
    organization_id = int(kept["organization_id"])
    follow_up = await sending_campaign(
        database, settings, people[:3], organization_id=organization_id, name="follow-up"
    )
    outcomes = await deliveries_of(database, follow_up)
    assert {row["status"] for row in outcomes.values()} == {"skipped"}
    assert all("old" in str(row["reason"]) for row in outcomes.values())
    async with database.connection() as connection:
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert actions.count("campaign.prune") == 1


async def test_prune_needs_an_age(database_url: str, cli_environment: None) -> None:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["prune"])
    assert result.exit_code != 0
    assert "CAMPAIGND_RETENTION_DAYS" in " ".join(result.output.split())
    bad = await asyncio.to_thread(CliRunner().invoke, app, ["prune", "--older-than", "soon"])
    assert bad.exit_code != 0
    assert "'soon' is not a number of days" in " ".join(bad.output.split())


async def test_the_scheduler_prunes_daily_when_retention_is_set(
    database: Database, settings: Settings
) -> None:
    old = await sent_campaign(
        database, settings, ["a@example.org", "b@example.org"], days_ago=40, name="old"
    )
    scheduler = scheduler_for(database, settings, retention_days=30, scheduler_interval=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))

    async def pruned() -> bool:
        return await rows_of(database, old) == 0

    try:
        await wait_until(pruned)
    finally:
        stop.set()
        await running
    assert (await campaign_of(database, old))["pruned_counts"] == {"sent": 2}


async def test_without_retention_the_scheduler_prunes_nothing(
    database: Database, settings: Settings
) -> None:
    old = await sent_campaign(database, settings, ["a@example.org"], days_ago=4000, name="old")
    organization_id = int((await campaign_of(database, old))["organization_id"])
    later = await make_campaign(
        database, organization_id, emails=["c@example.org"], scheduled_for=soon(0.3)
    )
    scheduler = scheduler_for(database, settings, scheduler_interval=0.05)
    assert scheduler.settings.retention_days is None
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))

    async def later_sent() -> bool:
        return (await campaign_of(database, later))["status"] in ("sending", "sent")

    try:
        await wait_until(later_sent)  # the loop made passes after the first one
    finally:
        stop.set()
        await running
    assert await rows_of(database, old) == 1
