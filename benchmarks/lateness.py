"""Scheduler lateness: run start minus ``scheduledFor`` over campaigns due a few seconds ahead.

    python -m benchmarks.lateness --campaigns 50

A fresh SQLite database; campaigns due 2 to 6 s from now (spread out, a few sharing a
second); ``Scheduler.run`` with the default one-second interval starts them; the figures
are read from the runs it recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from campaignd.domain.lifecycle import Action
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.settings import Settings
from campaignd.store import campaigns, organizations, recipients
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.store.schema import runs
from campaignd.wakeups import LocalWakeups

RECIPIENTS = 100


async def schedule(database: Database, count: int) -> None:
    start = utcnow() + timedelta(seconds=2)
    async with database.transaction() as connection:
        organization = await organizations.create_organization(
            connection, slug="bench", name="Bench"
        )
        for number in range(count):
            campaign_id = await campaigns.create_campaign(
                connection,
                organization_id=int(organization["id"]),
                actor="bench",
                name=f"Campaign {number}",
                subject="Hello",
                text_body="Hi",
            )
            emails = ((f"c{number}-{n}@example.org", None) for n in range(RECIPIENTS))
            await recipients.add_recipients(connection, campaign_id, emails)
            due = start + timedelta(milliseconds=(number * 4000 // count) // 100 * 100)
            await campaigns.transition(connection, campaign_id, Action.SCHEDULE, scheduled_for=due)


async def measure(count: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="campaignd-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        try:
            await schedule(database, count)
            settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
            scheduler = Scheduler(database, settings, lock=LocalLock(), wakeups=LocalWakeups())
            stop = asyncio.Event()
            task = asyncio.create_task(scheduler.run(stop))
            deadline = time.monotonic() + 30
            latenesses: list[float] = []
            while len(latenesses) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                async with database.connection() as connection:
                    result = await connection.execute(select(runs.c.lateness_seconds))
                    latenesses = [float(value) for value in result.scalars()]
            stop.set()
            await task
            return latenesses
        finally:
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=50)
    arguments = parser.parse_args()
    latenesses = sorted(asyncio.run(measure(arguments.campaigns)))
    if len(latenesses) < arguments.campaigns:
        raise SystemExit(f"only {len(latenesses)} of {arguments.campaigns} campaigns started")
    p99 = latenesses[min(len(latenesses) - 1, round(0.99 * (len(latenesses) - 1)))]
    print(
        f"{len(latenesses)} campaigns ({RECIPIENTS} recipients each), sqlite: "
        f"p50 {statistics.median(latenesses) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {latenesses[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
