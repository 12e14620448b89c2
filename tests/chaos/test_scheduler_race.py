"""Two schedulers with the lock disabled, in two OS processes on one PostgreSQL database.

Correctness must not rest on the leader lock: each start is one conditional update and
each fan-out is claimed by its first statement, so every campaign gets exactly one run
and every recipient is queued once.
"""

from __future__ import annotations

import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries, runs
from campaignd.store.waiting import QUEUED
from tests.integration.scheduling_helpers import make_campaign, make_organization
from tests.support import WAIT_FOR_GO, assert_overlapped, race, racing_window

pytestmark = pytest.mark.chaos

REPOSITORY = Path(__file__).resolve().parents[2]
CAMPAIGNS = 60
SCHEDULERS = 3

SCHEDULER_PROCESS = (
    """
import asyncio, sys, time
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.wakeups import LocalWakeups

async def main(url):
    database = Database(url)
    settings = Settings(_env_file=None, database_url=url)
    scheduler = Scheduler(database, settings, lock=LocalLock(), wakeups=LocalWakeups())
    async with database.connection():
        pass  # connected: the race is only the scheduling
    await asyncio.to_thread(wait_for_go)
    try:
        started = time.time()
        await scheduler.run_burst()
        print(started, time.time())
    finally:
        await database.dispose()

def wait_for_go():
"""
    + textwrap.indent(WAIT_FOR_GO, "    ")
    + """

asyncio.run(main(sys.argv[1]))
"""
)


async def test_racing_schedulers_start_each_campaign_once(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        organization = await make_organization(database)
        due = utcnow() - timedelta(seconds=5)
        for number in range(CAMPAIGNS):
            emails = [f"p{number}-{n}@example.org" for n in range(20)] + ["everyone@example.org"]
            await make_campaign(
                database, organization, name=f"Campaign {number}", emails=emails, scheduled_for=due
            )
        outputs = race(
            [[sys.executable, "-c", SCHEDULER_PROCESS, postgres_url]] * SCHEDULERS,
            cwd=str(REPOSITORY),
        )
        windows = [racing_window(output) for output in outputs]
        assert_overlapped(windows)

        async with database.connection() as connection:
            runs_per_campaign = dict(
                (
                    await connection.execute(
                        select(runs.c.campaign_id, func.count()).group_by(runs.c.campaign_id)
                    )
                ).all()
            )
            statuses = Counter((await connection.execute(select(campaigns.c.status))).scalars())
            unfanned = (
                await connection.execute(
                    select(func.count()).where(campaigns.c.fanned_out_at.is_(None))
                )
            ).scalar_one()
            queued = Counter(
                (
                    await connection.execute(
                        select(deliveries.c.email).where(deliveries.c.status == QUEUED)
                    )
                ).scalars()
            )
        assert len(runs_per_campaign) == CAMPAIGNS
        assert set(runs_per_campaign.values()) == {1}
        assert statuses == {"sending": CAMPAIGNS} and unfanned == 0
        assert queued["everyone@example.org"] == 1  # shared by all, reserved by one
        assert len(queued) == CAMPAIGNS * 20 + 1
    finally:
        await database.dispose()
