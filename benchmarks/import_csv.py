"""Rows per second of a CSV import through the HTTP route (POST .../recipients, text/csv).

    python benchmarks/import_csv.py [--rows 100000] [--database-url postgresql://...]

Without ``--database-url`` it uses a fresh SQLite file in a temporary folder. A PostgreSQL
database given here must be migrated (``campaignd db upgrade``) and is written to.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from campaignd.actions.services import Services
from campaignd.api.app import create_app
from campaignd.settings import Settings
from campaignd.store import organizations, tokens
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.wakeups import LocalWakeups


def csv_body(rows: int) -> bytes:
    lines = ["email,first_name,city"]
    lines += [
        f"person{number}@example{number % 97}.org,Name{number},Town" for number in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def measure(database_url: str, rows: int) -> None:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    database = Database(database_url)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug=slug, name=slug)
        _, token = await tokens.create_token(
            connection, role="organization_admin", organization_id=organization["id"], name=slug
        )
    app = create_app(Services(database, settings, LocalWakeups()))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    body = csv_body(rows)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers, timeout=600
    ) as client:
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
    if arguments.database_url:
        asyncio.run(measure(arguments.database_url, arguments.rows))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        asyncio.run(measure(url, arguments.rows))


if __name__ == "__main__":
    main()
