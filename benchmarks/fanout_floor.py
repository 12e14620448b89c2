"""The least a list's fan-out can cost on PostgreSQL: the writes it cannot do without, timed.

A campaign to a list of N contacts must, when it starts, store a delivery row for each
contact (``store.campaign_audience.add_audience``, one ``INSERT ... SELECT``), reserve each
address in the cooldown ledger (``store.ledger.reserve_queued``, one upsert: the atomic
reservation that keeps two campaigns from mailing one person twice) and write the frequency
rules' entry of each queued address (``store.frequency.write_entries``, one ``INSERT``). On
a new database seeded as ``python -m benchmarks --only fanout`` seeds it (a fifth of the
contacts in cooldown, a fifth taken over; with ``--nobody-held`` no one was mailed before),
this runs the real ``fan_out`` and reads the seconds of those three statements from it,
then copies N prebuilt delivery rows into an empty table shaped like ``deliveries`` with
``COPY`` (the fastest way PostgreSQL takes rows in: no reading of contacts, no sort), all
in one run, and prints:

- the whole fan-out's rate (what ``benchmarks`` reports);
- the rate the three statements alone would allow (N over their seconds);
- the rate with ``COPY`` in place of the audience's ``INSERT``: a bound that no way of
  storing the same rows and writing the same ledgers beats on this server.

    python -m benchmarks.fanout_floor                    # 1,000,000 contacts
    python -m benchmarks.fanout_floor --nobody-held      # an empty cooldown ledger
    python -m benchmarks.fanout_floor --contacts 200000 --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlalchemy import delete

from benchmarks.common import (
    COOLDOWN_DAYS,
    add_postgres_option,
    analyse,
    postgres_database,
    required_postgres,
    seed_list_audience,
    start_manually,
)
from benchmarks.delivery_keys import copy_seconds, prebuilt_rows
from benchmarks.fanout import time_statements
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.schema import cooldown_ledger

AUDIENCE_INSERT = "INSERT INTO deliveries"
RESERVATION = "WITH taken AS (INSERT INTO cooldown_ledger"
FREQUENCY_ENTRIES = "INSERT INTO ledger_entries"
TARGET = 100_000


def seconds_of(timings: list[tuple[float, str]], prefix: str) -> float:
    """The seconds of the one statement starting with ``prefix``."""
    [seconds] = [seconds for seconds, statement in timings if statement.startswith(prefix)]
    return seconds


async def fan_out_list(
    url: str, contacts: int, *, nobody_held: bool
) -> tuple[float, dict[str, float], int]:
    """Seed and fan out a campaign to a list of ``contacts``; the seconds of the whole fan-out
    and of each of its indispensable statements, and the campaign's id."""
    database = Database(url)
    try:
        audience = await seed_list_audience(database, contacts)
        held = audience.in_cooldown
        if nobody_held:
            async with database.transaction() as connection:
                await connection.execute(delete(cooldown_ledger))
            held = 0
        await analyse(database)
        await start_manually(database, audience.campaign_id)
        timings = time_statements(database)
        rules = CooldownRules(days=COOLDOWN_DAYS, scope="global")
        started = time.perf_counter()
        async with database.transaction() as connection:
            counts = await fan_out(connection, audience.campaign_id, rules=rules, now=utcnow())
        whole = time.perf_counter() - started
    finally:
        await database.dispose()
    assert counts is not None and counts.get("skipped", 0) == held, counts
    statements = {
        "audience insert": seconds_of(timings, AUDIENCE_INSERT),
        "reservation": seconds_of(timings, RESERVATION),
        "frequency entries": seconds_of(timings, FREQUENCY_ENTRIES),
    }
    return whole, statements, audience.campaign_id


def rate_line(label: str, contacts: int, seconds: float) -> str:
    rate = contacts / seconds
    verdict = "reaches" if rate >= TARGET else "short of"
    return f"  {label:<40} {seconds:6.2f} s {rate:>8,.0f} /s ({verdict} {TARGET // 1000}k/s)"


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--nobody-held", action="store_true", help="no contact was mailed before (no cooldown)"
    )
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    contacts = options.contacts
    with postgres_database(base) as url:
        whole, statements, campaign_id = asyncio.run(
            fan_out_list(url, contacts, nobody_held=options.nobody_held)
        )
        copied = copy_seconds(url, "as stored", prebuilt_rows(contacts, campaign_id), campaign_id)
    held = "nobody held" if options.nobody_held else "a fifth held, a fifth taken over"
    print(f"PostgreSQL, a list of {contacts:,} contacts, {held}:")
    ledgers = statements["reservation"] + statements["frequency entries"]
    lines = [
        ("the whole fan-out", whole),
        ("its audience insert and two ledgers", statements["audience insert"] + ledgers),
        ("COPY of the rows and the two ledgers", copied + ledgers),
    ]
    for label, seconds in lines:
        print(rate_line(label, contacts, seconds))
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in statements.items())
    print(f"  ({parts}, COPY {copied:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
