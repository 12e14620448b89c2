"""Rows per second of a contact import: a CSV file read, checked and upserted in batches, as
``campaignd contact import`` and a streamed ``POST .../contacts`` do it.

    python -m benchmarks.contacts_upsert [--rows 1000000] [--postgres URL] [--skip-postgres]
                                         [--baseline-rows 20000]

Four passes over one organization, each on the file of the pass: new contacts (created), the
same file again (unchanged: nothing is written), a file where one attribute changed
(merged), and the first file again once the organization has erased an address (every
address of the file is then hashed and looked up); then a baseline, new contacts stored one
statement per row. SQLite is a fresh file in a temporary
folder; PostgreSQL a new database next to ``--postgres`` or
``CAMPAIGND_TEST_DATABASE_URL`` (skipped without either).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import bench_settings, create_organization, database_url, postgres_base_url
from campaignd.actions.contacts import ContactImport
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.domain.contacts import Mode, batches, csv_contacts
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.erasure import erase_address
from campaignd.wakeups import LocalWakeups

BATCH_ROWS = 5_000
CITIES = ("Berlin", "Lisbon", "Osaka", "Lagos", "Quito", "Oslo")
PRINCIPAL = Principal(actor="benchmark", role=Role.PLATFORM_ADMIN)


@dataclass(frozen=True)
class Pass:
    name: str
    rows: int
    seconds: float
    created: int
    updated: int
    unchanged: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def write_csv(path: Path, rows: int, *, city_shift: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name", "city", "plan"])
        for number in range(rows):
            writer.writerow(
                [
                    f"person{number}@example{number % 97}.org",
                    f"Person {number}",
                    CITIES[(number + city_shift) % len(CITIES)],
                    "pro" if number % 3 == 0 else "free",
                ]
            )
    return path


async def _import(services: Services, path: Path, name: str) -> Pass:
    importing = await ContactImport.open(
        services, PRINCIPAL, organization="bench", mode=Mode.MERGE, source="benchmark"
    )
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as file:
        for batch in batches(csv_contacts(file), BATCH_ROWS):
            await importing.write(batch)
    seconds = time.perf_counter() - started
    report = importing.report
    return Pass(name, report.rows, seconds, report.created, report.updated, report.unchanged)


async def measure(url: str, folder: Path, rows: int) -> list[Pass]:
    first = write_csv(folder / "contacts.csv", rows)
    changed = write_csv(folder / "changed.csv", rows, city_shift=1)
    database = Database(url)
    services = Services(database, bench_settings(url), LocalWakeups())
    try:
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
        passes = [
            await _import(services, first, "new contacts"),
            await _import(services, first, "the same file again (unchanged)"),
            await _import(services, changed, "one attribute changed (merged)"),
        ]
        async with database.transaction() as connection:
            await erase_address(
                connection,
                organization_id=organization_id,
                email="someone.else@example.net",
                now=utcnow(),
            )
        passes.append(await _import(services, changed, "again, after an erasure (hashed)"))
    finally:
        await database.dispose()
    return passes


async def baseline(url: str, folder: Path, rows: int) -> Pass:
    """The same new contacts one statement per row (an ``INSERT ... ON CONFLICT`` each, in
    one transaction): what a naive sync loop costs."""
    from sqlalchemy import select

    from campaignd.store.dialect import upsert
    from campaignd.store.schema import contacts, organizations

    path = write_csv(folder / "baseline.csv", rows)
    database = Database(url)
    try:
        async with database.transaction() as connection:
            await create_organization(connection, slug="baseline")
        started = time.perf_counter()
        async with database.transaction() as connection:
            organization_id = await connection.scalar(
                select(organizations.c.id).where(organizations.c.slug == "baseline")
            )
            with path.open(encoding="utf-8", newline="") as file:
                for batch in batches(csv_contacts(file), BATCH_ROWS):
                    for row in batch.contacts:
                        now = utcnow()
                        statement = upsert(connection.dialect.name, contacts).values(
                            organization_id=organization_id,
                            email=row.email,
                            attributes=row.attributes,
                            status="subscribed",
                            source="baseline",
                            created_at=now,
                            updated_at=now,
                        )
                        statement = statement.on_conflict_do_update(
                            index_elements=["organization_id", "email"],
                            set_={"attributes": statement.excluded.attributes},
                        )
                        await connection.execute(statement)
        seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    return Pass("baseline: one statement per row", rows, seconds, rows, 0, 0)


def show(label: str, passes: list[Pass]) -> None:
    for item in passes:
        print(
            f"{label:<10} {item.name:<34} {item.rows:>9,} rows {item.seconds:8.1f} s "
            f"{item.rate:>9,.0f} rows/s  (created {item.created:,}, updated {item.updated:,}, "
            f"unchanged {item.unchanged:,})"
        )


def run(kind: str, rows: int, postgres: str | None, *, baseline_rows: int = 0) -> list[Pass]:
    """The four passes, then (with ``baseline_rows``) the row-by-row baseline."""
    with tempfile.TemporaryDirectory(prefix="contacts-bench-") as name:
        folder = Path(name)
        with database_url(kind, folder, postgres) as url:
            passes = asyncio.run(measure(url, folder, rows))
            if baseline_rows:
                passes.append(asyncio.run(baseline(url, folder, baseline_rows)))
            return passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (a server to use)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--baseline-rows", type=int, default=20_000, help="rows of the row-by-row baseline"
    )
    arguments = parser.parse_args()
    show("SQLite", run("sqlite", arguments.rows, None, baseline_rows=arguments.baseline_rows))
    postgres = None if arguments.skip_postgres else postgres_base_url(arguments.postgres)
    if postgres is None:
        print("PostgreSQL: skipped (no --postgres URL or CAMPAIGND_TEST_DATABASE_URL)")
        return
    show(
        "PostgreSQL",
        run("postgresql", arguments.rows, postgres, baseline_rows=arguments.baseline_rows),
    )


if __name__ == "__main__":
    main()
