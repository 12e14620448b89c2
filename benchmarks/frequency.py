"""Fan-out under frequency rules: the default rule beside a two-rule set, same audience.

Each size gets a fresh database with one campaign of N recipients, a fifth of whom
received 'Winter Event' 15 days ago (as ``benchmarks.fanout``, with the per-message ledger
entries the migration copies). The scheduler's pass that fans it out is timed with the
default rule (``1 per 90 days``: the cooldown's statements) and with two rules
(``1 per 30 days`` and ``3 per 90 days``: the rule-set statements); both skip the same fifth.

    python -m benchmarks.frequency --sizes 100000,1000000
    python -m benchmarks.frequency --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta

from sqlalchemy import Integer, String, insert, literal, select

from benchmarks import fanout
from campaignd.domain.frequency import Rule
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.database import Database
from campaignd.store.frequency_rules import OWN, set_rules
from campaignd.store.schema import ledger_entries

TWO_RULES = (Rule(1, 30), Rule(3, 90))


async def seed(database: Database, size: int, rules: tuple[Rule, ...] | None) -> int:
    """``benchmarks.fanout.seed``, the ledger entries of the fifth in cooldown, and the
    organization's rules (None: the default)."""
    campaign_id = await ORIGINAL_SEED(database, size)
    async with database.transaction() as connection:
        series = fanout.numbers(size)
        await connection.execute(
            insert(ledger_entries).from_select(
                [
                    "scope",
                    "email",
                    "campaign_id",
                    "organization_id",
                    "campaign_name",
                    "contacted_at",
                ],
                select(
                    literal(0, Integer),
                    fanout.address(series.c.i),
                    literal(campaign_id - 1, Integer),
                    literal(1, Integer),
                    literal("Winter Event", String),
                    literal(utcnow() - timedelta(days=15), UtcDateTime),
                ).where(series.c.i % fanout.IN_COOLDOWN_EVERY == 0),
            )
        )
        if rules is not None:
            await set_rules(connection, 1, category=OWN, rules=rules, now=utcnow())
    return campaign_id


ORIGINAL_SEED = fanout.seed


def measure(url: str, size: int, rules: tuple[Rule, ...] | None) -> float:
    async def seeded(database: Database, count: int) -> int:
        return await seed(database, count, rules)

    fanout.seed = seeded
    try:
        seconds, _, _ = asyncio.run(fanout.measure(url, size))
    finally:
        fanout.seed = ORIGINAL_SEED
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated audiences")
    parser.add_argument("--postgres", default=os.environ.get("CAMPAIGND_TEST_DATABASE_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    arguments = parser.parse_args()
    print(f"{'database':<10} {'recipients':>10}  {'default rule':>12}  {'two rules':>10}  ratio")
    for size in [int(size) for size in arguments.sizes.split(",")]:
        dialects = []
        if arguments.only in (None, "sqlite"):
            dialects.append(("sqlite", fanout.sqlite_database))
        if arguments.postgres and arguments.only in (None, "postgresql"):
            dialects.append(("postgresql", lambda: fanout.postgres_database(arguments.postgres)))
        for name, make in dialects:
            times = []
            for rules in (None, TWO_RULES):
                with make() as url:
                    times.append(measure(url, size, rules))
            print(
                f"{name:<10} {size:>10,}  {times[0]:>10.2f} s  {times[1]:>8.2f} s"
                f"  {times[1] / times[0]:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
