"""Fan-out throughput: recipients per second on SQLite and PostgreSQL.

Each size gets a fresh database with one campaign of N recipients, a fifth of
whom received 'Winter Event' 15 days ago (contact ledger rows), and times the scheduler's
pass that fans it out (start, suppression, reservation, cooldown reasons, counts).

    python -m benchmarks.fanout --sizes 100000,1000000
    python -m benchmarks.fanout --postgres postgresql://postgres@127.0.0.1:5432/test

PostgreSQL comes from ``--postgres`` or ``CAMPAIGND_TEST_DATABASE_URL``; the script creates
its own database next to it and drops it afterwards. Without either, SQLite only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Integer, String, event, insert, literal, select
from sqlalchemy.engine import make_url

from benchmarks.common import analyse
from campaignd.domain.lifecycle import Action, CampaignStatus, Trigger
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.settings import Settings
from campaignd.store import campaigns, organizations, runs
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.store.schema import cooldown_ledger, deliveries
from campaignd.wakeups import LocalWakeups

IN_COOLDOWN_EVERY = 5


def numbers(count: int):  # type: ignore[no-untyped-def]
    """1..count as a recursive CTE (both dialects), so seeding never goes through Python."""
    seed = select(literal(1, Integer).label("i")).cte("numbers", recursive=True)
    return seed.union_all(select(seed.c.i + 1).where(seed.c.i < count))


def address(number):  # type: ignore[no-untyped-def]
    return literal("person", String) + number.cast(String) + literal("@example.org", String)


async def seed(database: Database, size: int) -> int:
    """One campaign with ``size`` recipients, a fifth of them in cooldown."""
    now = utcnow()
    async with database.transaction() as connection:
        organization = await organizations.create_organization(
            connection, slug="bench", name="Bench"
        )
        organization_id = int(organization["id"])
        winter = await campaigns.create_campaign(
            connection,
            organization_id=organization_id,
            actor="bench",
            name="Winter Event",
            subject="Winter",
            text_body="Hi",
        )
        await connection.execute(
            campaigns.campaigns.update()
            .where(campaigns.campaigns.c.id == winter)
            .values(status=CampaignStatus.SENT.value)
        )
        campaign_id = await campaigns.create_campaign(
            connection,
            organization_id=organization_id,
            actor="bench",
            name="Spring",
            subject="Spring",
            text_body="Hi",
        )
        series = numbers(size)
        await connection.execute(
            insert(deliveries).from_select(
                ["campaign_id", "email", "status", "attempts"],
                select(
                    literal(campaign_id, Integer),
                    address(series.c.i),
                    literal("queued", String),
                    literal(0, Integer),
                ),
            )
        )
        await connection.execute(
            insert(cooldown_ledger).from_select(
                ["scope", "email", "campaign_id", "campaign_name", "contacted_at"],
                select(
                    literal(0, Integer),
                    address(series.c.i),
                    literal(winter, Integer),
                    literal("Winter Event", String),
                    literal(now - timedelta(days=15), UtcDateTime),
                ).where(series.c.i % IN_COOLDOWN_EVERY == 0),
            )
        )
        await campaigns.transition(connection, campaign_id, Action.SCHEDULE, scheduled_for=now)
    return campaign_id


def time_statements(database: Database) -> list[tuple[float, str]]:
    """Record (seconds, statement) of every statement from now on (``--statements``)."""
    timings: list[tuple[float, str]] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def before(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        connection.info["started"] = time.perf_counter()

    @event.listens_for(database.engine.sync_engine, "after_cursor_execute")
    def after(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        seconds = time.perf_counter() - connection.info["started"]
        timings.append((seconds, " ".join(statement.split())[:160]))

    return timings


async def measure(
    url: str, size: int, *, statements: bool = False
) -> tuple[float, int, dict[str, int]]:
    """Seconds of the fan-out pass, peak Python memory during it, and the run's counts."""
    database = Database(url)
    try:
        campaign_id = await seed(database, size)
        if not database.is_sqlite:
            await analyse(database)
        async with database.transaction() as connection:
            await runs.start_campaign(
                connection, campaign_id, trigger=Trigger.MANUAL, actor="bench", now=utcnow()
            )
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        scheduler = Scheduler(database, settings, lock=LocalLock(), wakeups=LocalWakeups())
        await scheduler.lock.acquire()
        timings = time_statements(database) if statements else []
        tracemalloc.start()
        started = time.perf_counter()
        report = await scheduler.tick()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert report.fanned_out == [campaign_id], report
        for statement_seconds, statement in sorted(timings, reverse=True)[:8]:
            print(f"    {statement_seconds:7.3f} s  {statement}")
        async with database.connection() as connection:
            [run] = await runs.runs_of_campaign(connection, campaign_id)
        counts = {"queued": run["queued"], "skipped": run["skipped"]}
        expected_skipped = size // IN_COOLDOWN_EVERY
        assert counts == {"queued": size - expected_skipped, "skipped": expected_skipped}, counts
        return seconds, peak, counts
    finally:
        await database.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="campaignd-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        yield url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    admin = make_url(server_url).set(drivername="postgresql")
    name = f"campaignd_bench_{os.getpid()}"
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(dialect: str, size: int, seconds: float, peak: int, counts: dict[str, int]) -> None:
    print(
        f"{dialect:<10} {size:>9,} recipients  {seconds:7.2f} s  {size / seconds:>10,.0f} /s"
        f"  queued {counts['queued']:,} skipped {counts['skipped']:,}"
        f"  python peak {peak / 2**20:.1f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated audiences")
    parser.add_argument("--postgres", default=os.environ.get("CAMPAIGND_TEST_DATABASE_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--statements", action="store_true", help="print the slowest statements")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    for size in sizes:
        if arguments.only in (None, "sqlite"):
            with sqlite_database() as url:
                report(
                    "sqlite",
                    size,
                    *asyncio.run(measure(url, size, statements=arguments.statements)),
                )
        if arguments.postgres and arguments.only in (None, "postgresql"):
            with postgres_database(arguments.postgres) as url:
                report(
                    "postgresql",
                    size,
                    *asyncio.run(measure(url, size, statements=arguments.statements)),
                )


if __name__ == "__main__":
    main()
