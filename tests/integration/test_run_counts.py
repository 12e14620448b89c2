"""Live run counts refreshed in turns: one lease keeper counts a campaign per period,
whichever instance it runs in; on real SQLite and PostgreSQL, and raced by processes."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import update

from campaignd.settings import Settings
from campaignd.store import run_counts
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import deliveries, runs
from tests.integration.delivery_support import (
    latest_run,
    organization,
    sending_campaign,
    worker,
)
from tests.support import WAIT_FOR_GO, assert_overlapped, race, racing_window, settings_for

REPOSITORY = Path(__file__).resolve().parents[2]
PEOPLE = [f"person{number}@example.org" for number in range(6)]


async def _mark_sent(database: Database, campaign_id: int, emails: list[str]) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries)
            .where(deliveries.c.campaign_id == campaign_id, deliveries.c.email.in_(emails))
            .values(status="sent", sent_at=utcnow())
        )


async def _sending(database: Database, settings: Settings) -> int:
    """A sending campaign to ``PEOPLE``, fanned out (its run counted once)."""
    organization_id = await organization(database)
    return await sending_campaign(database, settings, PEOPLE, organization_id=organization_id)


async def _a_period_later(database: Database, campaign_id: int, settings: Settings) -> None:
    """As if the run's last count was a period ago."""
    async with database.transaction() as connection:
        await connection.execute(
            update(runs)
            .where(runs.c.campaign_id == campaign_id)
            .values(counted_at=utcnow() - timedelta(seconds=settings.lease_seconds))
        )


async def test_two_instances_keepers_count_a_campaign_once_a_period(
    database: Database, settings: Settings
) -> None:
    campaign_id = await _sending(database, settings)
    first, second = (worker(database, settings, owner=owner) for owner in ("one", "two"))
    await _mark_sent(database, campaign_id, PEOPLE[:2])
    await _a_period_later(database, campaign_id, settings)  # the fan-out counted them

    await first.keeper.upkeep()
    counted = await latest_run(database, campaign_id)
    assert (counted["sent"], counted["queued"]) == (2, 4)
    assert counted["counted_at"] is not None and counted["count_seconds"] >= 0
    assert REGISTRY.get_sample_value("campaignd_queue_depth") == 4

    await _mark_sent(database, campaign_id, PEOPLE[2:5])
    await second.keeper.upkeep()  # the same period: the first instance's count stands
    assert (await latest_run(database, campaign_id))["sent"] == 2

    await _a_period_later(database, campaign_id, settings)
    await second.keeper.upkeep()
    run = await latest_run(database, campaign_id)
    assert (run["sent"], run["queued"]) == (5, 1)
    assert REGISTRY.get_sample_value("campaignd_queue_depth") == 1


async def test_a_count_that_took_long_is_made_less_often(
    database: Database, settings: Settings
) -> None:
    campaign_id = await _sending(database, settings)
    now = utcnow()
    async with database.transaction() as connection:
        await connection.execute(
            update(runs)
            .where(runs.c.campaign_id == campaign_id)
            .values(counted_at=now, count_seconds=4.0)  # 4 s: next count 40 s later
        )
    for seconds, expected in ((20, False), (39, False), (41, True), (41, False)):
        async with database.transaction() as connection:
            taken = await run_counts.take_turn(
                connection,
                campaign_id,
                period_seconds=20,
                now=now + timedelta(seconds=seconds),
            )
        assert taken is expected, seconds


async def test_the_queue_gauge_reads_only_started_campaigns_live_runs(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    sending = await sending_campaign(
        database, settings, PEOPLE, organization_id=organization_id, name="Sending"
    )
    paused = await sending_campaign(
        database, settings, PEOPLE[:3], organization_id=organization_id, name="Paused"
    )
    async with database.transaction() as connection:
        await connection.execute(update(runs).where(runs.c.campaign_id == sending).values(queued=6))
        await connection.execute(update(runs).where(runs.c.campaign_id == paused).values(queued=3))
        assert await run_counts.queued_as_counted(connection) == 9
        await connection.execute(
            update(runs).where(runs.c.campaign_id == paused).values(live=False)
        )
        assert await run_counts.queued_as_counted(connection) == 6


SECONDS = 1.5
"""How long each racer keeps taking turns."""

RACING_TURNS = (
    """
import asyncio, json, sys, time
from datetime import datetime, timedelta
from campaignd.store import run_counts
from campaignd.store.database import Database

async def main(url, campaign_id, start, epoch):
    database = Database(url)
    origin = datetime.fromisoformat(start)
    async with database.connection():
        pass  # connected: the race is only the turns
    await asyncio.to_thread(wait_for_go)
    won = []
    try:
        started = time.time()
        while time.time() < started + SECONDS:
            # 10 ms of the wall clock are one period of 20 s for every racer at once
            period = int((time.time() - epoch) * 100)
            async with database.transaction() as connection:
                now = origin + timedelta(seconds=20 * period)
                if await run_counts.take_turn(
                    connection, campaign_id, period_seconds=20, now=now
                ):
                    won.append(period)
        print(started, time.time())
        print(json.dumps(won))
    finally:
        await database.dispose()

def wait_for_go():
"""
    + textwrap.indent(WAIT_FOR_GO, "    ")
    + """

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
"""
).replace("SECONDS", str(SECONDS))


async def test_racing_keepers_never_take_the_same_period(postgres_url: str, tmp_path: Path) -> None:
    """Four processes take turns on one run at once for 1.5 s, each 10 ms of the clock a new
    period for all of them (PostgreSQL): no period is counted by two of them."""
    settings = settings_for(postgres_url, tmp_path)
    database = Database(postgres_url)
    try:
        campaign_id = await _sending(database, settings)
        async with database.transaction() as connection:
            await connection.execute(
                update(runs).where(runs.c.campaign_id == campaign_id).values(counted_at=None)
            )
    finally:
        await database.dispose()
    origin = (utcnow() + timedelta(days=1)).isoformat()
    epoch = str(time.time())
    outputs = race(
        [
            [sys.executable, "-c", RACING_TURNS, postgres_url, str(campaign_id), origin, epoch]
            for _ in range(4)
        ],
        cwd=str(REPOSITORY),
        timeout=120,
    )
    assert_overlapped([racing_window(output) for output in outputs])
    won = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    periods = [period for periods in won for period in periods]
    assert len(periods) == len(set(periods)), won
    assert len(periods) >= 10, won
