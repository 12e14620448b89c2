"""Row costs on PostgreSQL: what one recipient costs on disk and in the write-ahead log.

For a campaign of N recipients, on a new database:

1. the recipients are loaded (one ``INSERT ... SELECT``, as the API's bulk paths do);
2. the campaign fans out (``store.fanout.fan_out``, with a fifth of them in cooldown);
3. one worker delivers every message to a local SMTP sink (``serve``'s worker, burst mode).

After each step it reads the size of every table with its indexes and TOAST
(``pg_total_relation_size``), the WAL written (``pg_current_wal_lsn`` before and after)
and the transactions committed and rows written (``pg_stat_database``, ``pg_stat_user_tables``).
Divided by N these are the per-recipient costs that docs/scaling.md builds on.

    python -m benchmarks.row_costs                          # 100,000 recipients
    python -m benchmarks.row_costs --recipients 20000 --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from benchmarks.common import (
    COOLDOWN_DAYS,
    SmtpSink,
    add_postgres_option,
    analyse,
    postgres_database,
    required_postgres,
    seed_audience,
    start_manually,
    worker_burst,
)
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out

TABLES = (
    "deliveries",
    "cooldown_ledger",
    "ledger_entries",
    "campaigns",
    "runs",
    "suppressions",
    "audit_log",
)
console = Console()


@dataclass(frozen=True)
class Snapshot:
    """What the database holds and has written, at one moment."""

    wal_bytes: int
    commits: int
    rows_written: int
    table_bytes: dict[str, int]
    table_rows: dict[str, int]


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    wal_bytes: int
    commits: int
    rows_written: int


async def snapshot(database: Database) -> Snapshot:
    async with database.transaction() as connection:
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        wal = (await connection.execute(text("SELECT pg_current_wal_lsn() - '0/0'"))).scalar_one()
        commits = (
            await connection.execute(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            )
        ).scalar_one()
        written = (
            await connection.execute(
                text(
                    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                    "FROM pg_stat_user_tables"
                )
            )
        ).scalar_one()
        sizes = {
            table: int(
                (
                    await connection.execute(
                        text("SELECT pg_total_relation_size(CAST(:table AS regclass))"),
                        {"table": table},
                    )
                ).scalar_one()
            )
            for table in TABLES
        }
        rows = {
            table: int(
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )
            for table in TABLES
        }
    return Snapshot(int(wal), int(commits), int(written), sizes, rows)


async def _statistics_settled(database: Database) -> None:
    """Table statistics reach ``pg_stat_*`` when a backend reports them (at most a second
    later, ``stats_fetch_consistency``); a forced flush makes the next snapshot whole."""
    async with database.transaction() as connection:
        await connection.execute(text("SELECT pg_stat_force_next_flush()"))


async def measured(
    database: Database, name: str, work: Callable[[], Awaitable[Any]]
) -> tuple[Step, Snapshot]:
    before = await snapshot(database)
    started = time.perf_counter()
    await work()
    seconds = time.perf_counter() - started
    await _statistics_settled(database)
    await asyncio.sleep(1.1)  # statistics flush interval of other backends (pgstat, 1 s)
    after = await snapshot(database)
    step = Step(
        name,
        seconds,
        after.wal_bytes - before.wal_bytes,
        after.commits - before.commits,
        after.rows_written - before.rows_written,
    )
    return step, after


async def measure(url: str, recipients: int) -> tuple[list[Step], Snapshot]:
    database = Database(url)
    steps: list[Step] = []
    try:
        load, _ = await measured(
            database, "load recipients", lambda: seed_audience(database, recipients)
        )
        steps.append(load)
        await analyse(database)
        async with database.transaction() as connection:
            campaign_id = int(
                (
                    await connection.execute(
                        text("SELECT max(id) FROM campaigns WHERE status = 'draft'")
                    )
                ).scalar_one()
            )
        await start_manually(database, campaign_id)

        async def fan() -> None:
            async with database.transaction() as connection:
                await fan_out(
                    connection,
                    campaign_id,
                    rules=CooldownRules(days=COOLDOWN_DAYS, scope="global"),
                    now=utcnow() + timedelta(seconds=1),
                )

        fanned, _ = await measured(database, "fan-out", fan)
        steps.append(fanned)
        with SmtpSink(kind="minimal") as sink:
            sent, final = await measured(
                database, "deliver", lambda: worker_burst(url, sink.url, 8)
            )
        steps.append(sent)
    finally:
        await database.dispose()
    return steps, final


def report(recipients: int, steps: list[Step], final: Snapshot) -> None:
    eligible = recipients - recipients // 5
    table = Table(title=f"PostgreSQL, {recipients:,} recipients ({eligible:,} eligible)")
    for column in ("step", "seconds", "WAL bytes/recipient", "commits", "rows written/recipient"):
        table.add_column(column, justify="right")
    for step in steps:
        per = eligible if step.name == "deliver" else recipients
        table.add_row(
            step.name,
            f"{step.seconds:.2f}",
            f"{step.wal_bytes / per:,.0f}",
            f"{step.commits:,}",
            f"{step.rows_written / per:.2f}",
        )
    console.print(table)
    sizes = Table(title="On disk after delivery (table + indexes + TOAST)")
    sizes.add_column("table")
    sizes.add_column("rows", justify="right")
    sizes.add_column("bytes", justify="right")
    sizes.add_column("bytes/row", justify="right")
    sizes.add_column("bytes/recipient", justify="right")
    for name, size in final.table_bytes.items():
        rows = final.table_rows[name]
        per_row = f"{size / rows:,.0f}" if rows else "-"
        sizes.add_row(name, f"{rows:,}", f"{size:,}", per_row, f"{size / recipients:,.0f}")
    console.print(sizes)


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    with postgres_database(base) as url:
        steps, final = asyncio.run(measure(url, options.recipients))
    report(options.recipients, steps, final)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
