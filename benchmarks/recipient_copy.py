"""Recipients into PostgreSQL: ``COPY`` (what campaignd does) beside ``executemany`` (before).

The same N recipients (address and two variables, as an import gives them after parsing)
are stored into two draft campaigns of a new database, in chunks of 50,000 rows: once by
``store.recipients.add_recipients_counted`` (``COPY`` into a temporary table, then one
``INSERT ... SELECT``), once by one ``INSERT ... ON CONFLICT DO NOTHING`` executed for
every row of the chunk (``executemany``, the path before). Parsing the file is not timed:
see ``python -m benchmarks --only import`` for whole imports.

    python -m benchmarks.recipient_copy                       # 1,000,000 recipients
    python -m benchmarks.recipient_copy --recipients 200000 --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from rich.console import Console

from benchmarks.common import (
    add_postgres_option,
    create_campaign,
    create_organization,
    email_of,
    postgres_database,
    required_postgres,
    variables_of,
)
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.database import Database
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.recipients import add_recipients_counted
from campaignd.store.schema import deliveries

CHUNK = 50_000
console = Console()


def recipients(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (email_of(number), {"first_name": variables_of(number)["first_name"], "code": str(number)})
        for number in range(1, count + 1)
    ]


async def measure(url: str, count: int) -> tuple[float, float]:
    """Seconds to store ``count`` recipients by ``COPY`` and by ``executemany``."""
    rows = recipients(count)
    database = Database(url)
    try:
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
            copied_id = await create_campaign(connection, organization_id, name="COPY")
            many_id = await create_campaign(connection, organization_id, name="executemany")
        started = time.perf_counter()
        for first in range(0, count, CHUNK):
            async with database.transaction() as connection:
                added = await add_recipients_counted(
                    connection, copied_id, rows[first : first + CHUNK]
                )
            assert added.added == len(rows[first : first + CHUNK]), added
        copy_seconds = time.perf_counter() - started
        statement = insert_ignoring_conflicts("postgresql", deliveries, ["campaign_id", "email"])
        started = time.perf_counter()
        for first in range(0, count, CHUNK):
            chunk = [
                {
                    "campaign_id": many_id,
                    "email": email,
                    "variables": variables,
                    "status": DeliveryStatus.QUEUED.value,
                    "attempts": 0,
                }
                for email, variables in rows[first : first + CHUNK]
            ]
            async with database.transaction() as connection:
                await connection.execute(statement, chunk)
        many_seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    return copy_seconds, many_seconds


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    with postgres_database(base) as url:
        copy_seconds, many_seconds = asyncio.run(measure(url, options.recipients))
    count = options.recipients
    console.print(
        f"PostgreSQL, {count:,} recipients in chunks of {CHUNK:,}: "
        f"COPY {count / copy_seconds:,.0f} rows/s ({copy_seconds:.1f} s), "
        f"executemany {count / many_seconds:,.0f} rows/s ({many_seconds:.1f} s): "
        f"{many_seconds / copy_seconds:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
