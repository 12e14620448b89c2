"""What the benchmarks that time the HTTP API in process share: a client of the ASGI app
signed in as a new organization's admin, and a run on a given database or a new SQLite
file."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from campaignd.actions.services import Services
from campaignd.api.app import create_app
from campaignd.settings import Settings
from campaignd.store import organizations, tokens
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.wakeups import LocalWakeups


@contextlib.asynccontextmanager
async def organization_client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API (no server, no network) with a new organization admin's token."""
    settings = Settings(_env_file=None, database_url=database.url)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug=slug, name=slug)
        _, token = await tokens.create_token(
            connection, role="organization_admin", organization_id=organization["id"], name=slug
        )
    app = create_app(Services(database, settings, LocalWakeups()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    ) as client:
        yield client


def run_on_database(
    measure: Callable[[str, int], Coroutine[Any, Any, None]], count: int, database_url: str | None
) -> None:
    """``measure(url, count)`` on ``database_url``, or on a new SQLite file when None."""
    if database_url:
        asyncio.run(measure(database_url, count))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        asyncio.run(measure(url, count))
