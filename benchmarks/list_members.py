"""Addresses per second added to a list through the HTTP route (POST .../lists/{name}/members).

    python -m benchmarks.list_members [--addresses 100000] [--database-url postgresql://...]

Three figures: new addresses (contacts and memberships created), the same addresses again
(nothing to do), and the same addresses moved to another status. Without
``--database-url`` it uses a fresh SQLite file in a temporary folder. A PostgreSQL
database given here must be migrated (``campaignd db upgrade``) and is written to.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.in_process_api import organization_client, run_on_database
from campaignd.store.database import Database


async def measure(database_url: str, count: int) -> None:
    database = Database(database_url)
    emails = [f"person{number}@example{number % 97}.org" for number in range(count)]
    print(f"database: {database.dialect}, addresses: {count:,}")
    async with organization_client(database) as client:
        created = await client.post("/api/admin/marketing/lists", json={"name": "News"})
        created.raise_for_status()
        path = "/api/admin/marketing/lists/News/members"
        for label, status in (
            ("new", "confirmed"),
            ("again", "confirmed"),
            ("status change", "unconfirmed"),
        ):
            started = time.perf_counter()
            response = await client.post(path, json={"emails": emails, "status": status})
            seconds = time.perf_counter() - started
            response.raise_for_status()
            report = response.json()
            print(
                f"{label}: {seconds:.2f} s, {count / seconds:,.0f} addresses/s "
                f"(added {report['added']}, updated {report['updated']}, "
                f"unchanged {report['unchanged']})"
            )
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    run_on_database(measure, arguments.addresses, arguments.database_url)


if __name__ == "__main__":
    main()
