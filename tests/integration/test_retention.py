"""Retention: ``campaignd prune`` and the scheduler's daily prune delete the delivery rows of
campaigns finished long ago; counts, runs and the cooldown stay."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from campaignd.actions.campaign_report import campaign_report, compare_campaigns
from campaignd.actions.services import Services
from campaignd.actions.tracking import Tracker
from campaignd.cli import app
from campaignd.delivery.tracking import tracking_tokens
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.settings import Settings
from campaignd.store import webhooks as webhook_store
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.outbox import record_event
from campaignd.store.schema import (
    audit_log,
    campaigns,
    deliveries,
    tracking_events,
    webhook_attempts,
    webhook_messages,
)
from campaignd.store.secrets import instance_secret
from campaignd.store.suppressions import add_suppressions
from campaignd.store.tracking import save_links
from campaignd.wakeups import LocalWakeups
from tests.integration.delivery_support import (
    campaign_of,
    deliveries_of,
    latest_run,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.scheduling_helpers import make_campaign, scheduler_for, soon, wait_until
from tests.integration.tracking_support import BROWSER
from tests.integration.webhook_support import (
    PLATFORM,
    Clock,
    add_endpoint,
    dispatcher,
    receivers,
    webhook_settings,
)


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


async def webhook_rows(database: Database) -> tuple[list[tuple[str, str]], int]:
    """(status, address in the payload) of every webhook message, and how many attempts."""
    async with database.connection() as connection:
        found = (
            await connection.execute(
                select(webhook_messages.c.status, webhook_messages.c.payload).order_by(
                    webhook_messages.c.id
                )
            )
        ).all()
        attempts = await connection.scalar(select(func.count()).select_from(webhook_attempts))
    return [(str(status), json.loads(payload)["email"]) for status, payload in found], int(
        attempts or 0
    )


async def test_prune_deletes_old_finished_webhook_messages_and_keeps_pending_ones(
    database: Database, settings: Settings, database_url: str, cli_environment: None
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    long_ago = Clock(offset=-timedelta(days=200))
    async with receivers(3) as [accepting, gone, failing]:
        gone.status, failing.status = 410, 500
        await add_endpoint(database, settings, accepting.url, event_types=["unsubscribed"])
        await add_endpoint(database, settings, gone.url, event_types=["unsubscribed"])
        retrying = await add_endpoint(database, settings, failing.url, event_types=["unsubscribed"])
        async with database.transaction() as connection:
            await record_event(
                connection, acme, "unsubscribed", {"email": "old@example.org"}, now=long_ago()
            )
        await dispatcher(database, settings, long_ago).run_burst()
        # the failing endpoint's message waits for its retry; its endpoint is then turned off
        # by hand, so it stays pending (never pruned, however old)
        async with database.transaction() as connection:
            await webhook_store.update_endpoint(
                connection,
                retrying.view.endpoint.id,
                organization_id=None,
                now=utcnow(),
                enabled=False,
            )
        async with database.transaction() as connection:
            await record_event(connection, acme, "unsubscribed", {"email": "new@example.org"})
        await dispatcher(database, settings, Clock()).run_burst()
    before = await webhook_rows(database)
    assert sorted(before[0]) == [
        ("delivered", "new@example.org"),
        ("delivered", "old@example.org"),
        ("failed", "old@example.org"),
        ("pending", "old@example.org"),
    ]
    assert before[1] == 4

    dry = await asyncio.to_thread(prune, database_url, "--older-than", "180d", "--dry-run")
    assert "would delete 2 webhook messages (with 2 attempts) delivered or given up before" in dry
    assert "campaign" not in dry
    assert await webhook_rows(database) == before

    done = await asyncio.to_thread(prune, database_url, "--older-than", "180d")
    assert "deleted 2 webhook messages (with 2 attempts)" in done
    after = await webhook_rows(database)
    assert sorted(after[0]) == [("delivered", "new@example.org"), ("pending", "old@example.org")]
    assert after[1] == 2
    async with database.connection() as connection:
        entries = (
            await connection.execute(
                select(audit_log.c.detail).where(audit_log.c.action == "webhooks.prune")
            )
        ).scalars()
        assert [(entry["messages"], entry["attempts"]) for entry in entries] == [(2, 2)]
    again = await asyncio.to_thread(prune, database_url, "--older-than", "180d")
    assert "nothing to prune" in again


async def test_a_pruned_campaign_keeps_its_report_figures(
    database: Database, settings: Settings, database_url: str, cli_environment: None
) -> None:
    people = [f"reader{number}@example.org" for number in range(6)]
    old = await sent_campaign(database, settings, people, days_ago=200, name="old")
    kept = await campaign_of(database, old)
    async with database.transaction() as connection:
        await save_links(connection, old, ["https://shop.example/a", "https://shop.example/b"])
        await add_suppressions(
            connection,
            organization_id=int(kept["organization_id"]),
            emails=[people[4]],
            reason="unsubscribed",
            now=utcnow(),
        )
        await add_suppressions(
            connection,
            organization_id=int(kept["organization_id"]),
            emails=[people[5]],
            reason="bounced",
            now=utcnow(),
        )
    ids = {email: int(row["id"]) for email, row in (await deliveries_of(database, old)).items()}
    tokens = tracking_tokens(await instance_secret(database, SECRET_NAME))
    sent_at = int(time.time()) - 3600
    tracker = Tracker(database)
    for email, link in ((people[0], 0), (people[0], 1), (people[1], 0), (people[2], 0)):
        await tracker.click(
            tokens.click(old, ids[email], link, sent_at), user_agent=BROWSER, address="192.0.2.1"
        )
    await tracker.open(tokens.open(old, ids[people[0]], sent_at), user_agent=BROWSER, address=None)
    await tracker.open(
        tokens.open(old, ids[people[3]], sent_at), user_agent="Mozilla/5.0", address=None
    )
    services = Services(database, settings, wakeups=LocalWakeups())
    report = await campaign_report(services, PLATFORM, old)
    assert (report.outcomes.sent, report.outcomes.unsubscribed, report.outcomes.bounced) == (
        6,
        1,
        1,
    )
    assert (report.engagement.unique_clicks, report.engagement.clicks) == (3, 4)
    assert (report.engagement.unique_opens, report.engagement.machine_opens) == (1, 1)
    assert [link.clicks for link in report.links] == [3, 1]
    assert report.machine_reasons == {"apple_privacy": 1}
    assert sum(point.clicks for point in report.timeline) == 4
    _, compared = await compare_campaigns(services, PLATFORM, organization="acme")

    done = await asyncio.to_thread(prune, database_url, "--older-than", "180d")
    assert "deleted 6 delivery rows and 6 opens and clicks of 1 campaign" in done
    assert await rows_of(database, old) == 0
    async with database.connection() as connection:
        events = await connection.scalar(
            select(func.count()).where(tracking_events.c.campaign_id == old)
        )
    assert events == 0

    assert await campaign_report(services, PLATFORM, old) == report
    assert (await compare_campaigns(services, PLATFORM, organization="acme"))[1] == compared
    # its links keep redirecting; a click now is no longer counted (its recipient row is gone)
    followed = await tracker.click(
        tokens.click(old, ids[people[1]], 1, sent_at), user_agent=BROWSER, address=None
    )
    assert followed == "https://shop.example/b"
    assert await campaign_report(services, PLATFORM, old) == report
