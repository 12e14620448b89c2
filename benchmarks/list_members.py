"""Addresses per second added to a list through the HTTP route (POST .../lists/{name}/members).

    python benchmarks/list_members.py [--addresses 100000] [--database-url postgresql://...]

Three figures: new addresses (contacts and memberships created), the same addresses again
(nothing to do), and the same addresses moved to another status. Without
``--database-url`` it uses a fresh SQLite file in a temporary folder. A PostgreSQL
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


async def measure(database_url: str, count: int) -> None:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    database = Database(database_url)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug=slug, name=slug)
        _, token = await tokens.create_token(
            connection, role="organization_admin", organization_id=organization["id"], name=slug
        )
    app = create_app(Services(database, settings, LocalWakeups()))
    headers = {"Authorization": f"Bearer {token}"}
    emails = [f"person{number}@example{number % 97}.org" for number in range(count)]
    print(f"database: {database.dialect}, addresses: {count:,}")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers=headers,
        timeout=600,
    ) as client:
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
    if arguments.database_url:
        asyncio.run(measure(arguments.database_url, arguments.addresses))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        asyncio.run(measure(url, arguments.addresses))


if __name__ == "__main__":
    main()
