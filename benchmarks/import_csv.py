"""Rows per second of a CSV import through the HTTP route (POST .../recipients, text/csv).

    python -m benchmarks.import_csv [--rows 100000] [--database-url postgresql://...]

Without ``--database-url`` it uses a fresh SQLite file in a temporary folder. A PostgreSQL
database given here must be migrated (``campaignd db upgrade``) and is written to.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.in_process_api import organization_client, run_on_database
from campaignd.store.database import Database


def csv_body(rows: int) -> bytes:
    lines = ["email,first_name,city"]
    lines += [
        f"person{number}@example{number % 97}.org,Name{number},Town" for number in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def measure(database_url: str, rows: int) -> None:
    database = Database(database_url)
    body = csv_body(rows)
    async with organization_client(database) as client:
        created = await client.post(
            "/api/admin/marketing/campaigns",
            json={"name": "Benchmark", "subject": "Hello", "textBody": "Hi {{ first_name }}"},
        )
        created.raise_for_status()
        path = f"/api/admin/marketing/campaigns/{created.json()['id']}/recipients"
        started = time.perf_counter()
        response = await client.post(path, content=body, headers={"content-type": "text/csv"})
        seconds = time.perf_counter() - started
    response.raise_for_status()
    report = response.json()
    await database.dispose()
    print(f"database: {database.dialect}")
    print(f"rows: {rows}, body: {len(body) / 1e6:.1f} MB, added: {report['added']}")
    print(f"seconds: {seconds:.2f}")
    print(f"rows/s: {rows / seconds:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    run_on_database(measure, arguments.rows, arguments.database_url)


if __name__ == "__main__":
    main()
