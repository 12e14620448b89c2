"""Segment count: the live count of a 3-condition segment over a million contacts.

Each database gets one organization with N contacts (one statement to seed them: a recursive
CTE on SQLite, ``generate_series`` on PostgreSQL) whose attributes vary with their number:
``plan`` (pro, free, team), ``country`` (seven of them), ``signed_up_at`` (a date within the
last year); one in twenty is unsubscribed, and a fifth are confirmed members of a list.
Then the issue's example filter is counted the way ``GET .../segments/{id}/count`` counts it
(one statement), and a sample of ten is read; each timed as the best of a few runs after a
first, warming run.

For engagement, three campaigns went out (every contact got "Digest", every second
"Spring sale", every third "Welcome": 1.83 messages per contact), a quarter of the messages
were opened (one open in ten by a machine) and one in fifteen clicked; then "clicked any
campaign in the last 90 days but did not open 'Welcome'" is counted.

    python -m benchmarks.segment_count                        # 1,000,000 contacts
    python -m benchmarks.segment_count --contacts 100000 --postgres postgresql://postgres@127.0.0.1/test

PostgreSQL comes from ``--postgres`` or ``CAMPAIGND_TEST_DATABASE_URL``; without either,
SQLite only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import bindparam, text

from benchmarks.common import analyse, create_organization, database_url, postgres_base_url
from benchmarks.report import Figure, Report, machine_description, render
from campaignd.domain.filters import parse
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.database import Database
from campaignd.store.segments import audience_condition, count_contacts, sample_contacts

ISSUE_EXAMPLE = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT"]},
        {"attribute": "signed_up_at", "op": "after", "value": "now-30d"},
    ]
}
WITH_A_LIST = {"all": [*ISSUE_EXAMPLE["all"][:2], {"list": "newsletter"}]}
ENGAGED = {
    "all": [
        {"engagement": "clicked", "within": "90d"},
        {"not": {"engagement": "opened", "campaign": "Welcome"}},
    ]
}
SENT_TO = {"Digest": 1, "Spring sale": 2, "Welcome": 3}
"""Campaign -> every how many contacts it went out to."""
RUNS = 3


def _seed_statement(dialect: str) -> str:
    """Contacts ``person{i}@example.org``, i = 1..:count, in one ``INSERT ... SELECT``."""
    if dialect == "sqlite":
        return (
            "WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers "
            "WHERE i < :count) "
            "INSERT INTO contacts (organization_id, email, attributes, status, created_at, "
            "updated_at) "
            "SELECT :organization, 'person' || i || '@example.org', json_object("
            "'plan', json_extract('[\"pro\",\"free\",\"team\"]', '$[' || (i % 3) || ']'), "
            '\'country\', json_extract(\'["DE","AT","FR","US","PT","JP","BR"]\', '
            "'$[' || (i % 7) || ']'), "
            "'signed_up_at', date(:today, '-' || (i % 365) || ' days'), "
            "'orders', i % 40), "
            "CASE WHEN i % 20 = 0 THEN 'unsubscribed' ELSE 'subscribed' END, :now, :now "
            "FROM numbers"
        )
    return (
        "INSERT INTO contacts (organization_id, email, attributes, status, created_at, "
        "updated_at) "
        "SELECT :organization, 'person' || i || '@example.org', jsonb_build_object("
        "'plan', (ARRAY['pro','free','team'])[1 + i % 3], "
        "'country', (ARRAY['DE','AT','FR','US','PT','JP','BR'])[1 + i % 7], "
        "'signed_up_at', to_char(CAST(:today AS date) - CAST(i % 365 AS integer), 'YYYY-MM-DD'), "
        "'orders', i % 40), "
        "CASE WHEN i % 20 = 0 THEN 'unsubscribed' ELSE 'subscribed' END, :now, :now "
        "FROM generate_series(1, CAST(:count AS integer)) AS numbers(i)"
    )


async def seed(database: Database, contacts: int) -> int:
    """One organization with ``contacts`` contacts and a list of a fifth of them; its id."""
    now = utcnow()
    async with database.transaction() as connection:
        organization_id = await create_organization(connection, slug="segments")
        statement = text(_seed_statement(connection.dialect.name)).bindparams(
            bindparam("now", type_=UtcDateTime())
        )
        await connection.execute(
            statement,
            {
                "organization": organization_id,
                "count": contacts,
                "today": now.date().isoformat(),
                "now": now,
            },
        )
        list_id = (
            await connection.execute(
                text(
                    "INSERT INTO lists (organization_id, name, visibility, opt_in, created_at, "
                    "updated_at) VALUES (:organization, 'newsletter', 'public', 'single', "
                    ":now, :now) RETURNING id"
                ).bindparams(bindparam("now", type_=UtcDateTime())),
                {"organization": organization_id, "now": now},
            )
        ).scalar_one()
        await connection.execute(
            text(
                "INSERT INTO list_members (list_id, contact_id, status, created_at, updated_at) "
                "SELECT :list, id, 'confirmed', :now, :now FROM contacts "
                "WHERE organization_id = :organization AND id % 5 = 0"
            ).bindparams(bindparam("now", type_=UtcDateTime())),
            {"list": list_id, "organization": organization_id, "now": now},
        )
    await seed_engagement(database, int(organization_id))
    if not database.is_sqlite:
        await analyse(database)
    return int(organization_id)


async def seed_engagement(database: Database, organization_id: int) -> None:
    """The campaigns of ``SENT_TO``, their messages (sent a week ago) and their opens and
    clicks (yesterday), each an ``INSERT ... SELECT``; messages in contact order, so that
    both databases number them alike (who opened and clicked goes by that number)."""
    now = utcnow()
    week_ago, yesterday = now - timedelta(days=7), now - timedelta(days=1)
    typed = {name: bindparam(name, type_=UtcDateTime()) for name in ("now", "sent", "seen")}
    async with database.transaction() as connection:
        for name, every in SENT_TO.items():
            campaign_id = (
                await connection.execute(
                    text(
                        "INSERT INTO campaigns (organization_id, name, subject, text_body, "
                        "status, created_by, created_at, updated_at) VALUES (:organization, "
                        ":name, 'Hello', 'Hi', 'sent', 'benchmark', :now, :now) RETURNING id"
                    ).bindparams(typed["now"]),
                    {"organization": organization_id, "name": name, "now": now},
                )
            ).scalar_one()
            await connection.execute(
                text(
                    "INSERT INTO deliveries (campaign_id, email, status, attempts, sent_at) "
                    "SELECT :campaign, email, 'sent', 1, :sent FROM contacts "
                    "WHERE organization_id = :organization AND id % :every = 0 ORDER BY id"
                ).bindparams(typed["sent"]),
                {
                    "campaign": campaign_id,
                    "organization": organization_id,
                    "every": every,
                    "sent": week_ago,
                },
            )
            await connection.execute(
                text(
                    "INSERT INTO tracking_events (campaign_id, delivery_id, kind, link_index, "
                    "machine, occurred_at) "
                    "SELECT campaign_id, id, 'open', NULL, "
                    "CASE WHEN id % 40 = 0 THEN 'apple_privacy' END, :seen "
                    "FROM deliveries WHERE campaign_id = :campaign AND id % 4 = 0 "
                    "UNION ALL SELECT campaign_id, id, 'click', 0, NULL, :seen "
                    "FROM deliveries WHERE campaign_id = :campaign AND id % 15 = 0"
                ).bindparams(typed["seen"]),
                {"campaign": campaign_id, "seen": yesterday},
            )


@dataclass(frozen=True)
class Timing:
    seconds: float
    """The best of ``RUNS`` runs, after a first one."""
    count: int


async def _best(work: Any) -> tuple[float, Any]:
    result = await work()
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        result = await work()
        best = min(best, time.perf_counter() - started)
    return best, result


async def measure(url: str, contacts: int) -> dict[str, Timing]:
    """Seconds to count the issue's example, the same with a list, and to read a sample."""
    database = Database(url)
    try:
        started = time.perf_counter()
        organization_id = await seed(database, contacts)
        seeded = time.perf_counter() - started
        timings: dict[str, Timing] = {"seed": Timing(seeded, contacts)}
        async with database.connection() as connection:
            conditions = {
                name: audience_condition(
                    parse(document),
                    dialect=connection.dialect.name,
                    organization_id=organization_id,
                    now=utcnow(),
                )
                for name, document in (
                    ("count", ISSUE_EXAMPLE),
                    ("count with a list", WITH_A_LIST),
                    ("count by engagement", ENGAGED),
                )
            }
            for name, condition in conditions.items():

                async def count(condition: Any = condition) -> int:
                    return await count_contacts(connection, condition)

                seconds, found = await _best(count)
                timings[name] = Timing(seconds, found)

            async def sample() -> int:
                return len(await sample_contacts(connection, conditions["count"], limit=10))

            seconds, found = await _best(sample)
            timings["sample of 10"] = Timing(seconds, found)
    finally:
        await database.dispose()
    return timings


def measure_segment_count(
    contacts: int, postgres: str | None, directory: Path, report: Report
) -> None:
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    if not postgres:
        report.problems.append("segment count on PostgreSQL: no --postgres URL")
    counts: dict[str, tuple[int, int]] = {}
    for kind in kinds:
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        print(f"segment count on {label}: seeding {contacts:,} contacts", flush=True)
        with database_url(kind, directory, postgres) as url:
            timings = asyncio.run(measure(url, contacts))
        counts[label] = (timings["count"].count, timings["count by engagement"].count)
        for name in ("count", "count with a list", "count by engagement", "sample of 10"):
            timing = timings[name]
            report.add(
                Figure(
                    section="segments",
                    name=f"{label}, {name}, {contacts:,} contacts",
                    value=timing.seconds,
                    unit="s",
                    note=(
                        f"{timing.count:,} selected; seeded in {timings['seed'].seconds:.0f} s"
                        if name != "sample of 10"
                        else "the first 10 in address order"
                    ),
                )
            )
    if len(set(counts.values())) > 1:
        report.problems.append(f"segment count: the databases disagree: {counts}")


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segment_count")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (a server to use)")
    options = parser.parse_args(arguments)
    report = Report(command="python -m benchmarks.segment_count")
    report.machine = machine_description()
    with tempfile.TemporaryDirectory(prefix="campaignd-segments-") as directory:
        measure_segment_count(
            options.contacts, postgres_base_url(options.postgres), Path(directory), report
        )
    render(report, Console())
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
