"""Fixtures: one database fixture parametrised over a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from tests.support import (
    POSTGRES_URL,
    REDIS_URL,
    drop_template,
    fresh_postgres_database,
    settings_for,
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if POSTGRES_URL:
        drop_template()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'campaignd.db'}"
        upgrade(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("CAMPAIGND_TEST_DATABASE_URL is not set")
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database only (for tests of concurrency between processes)."""
    if not POSTGRES_URL:
        pytest.skip("CAMPAIGND_TEST_DATABASE_URL is not set")
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("CAMPAIGND_TEST_REDIS_URL is not set")
    return REDIS_URL


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    handle = Database(database_url)
    yield handle
    await handle.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its database, an outbox in the test's folder, no .env."""
    return settings_for(database_url, tmp_path)


def pytest_configure(config: pytest.Config) -> None:
    """In CI the real services must be there: a missing one fails instead of skipping."""
    import os
    import shutil

    if os.environ.get("CAMPAIGND_REQUIRE_SERVICES") and not (POSTGRES_URL and REDIS_URL):
        raise pytest.UsageError(
            "CAMPAIGND_TEST_DATABASE_URL and CAMPAIGND_TEST_REDIS_URL must be set in CI"
        )
    if os.environ.get("CAMPAIGND_REQUIRE_BROWSER") and not shutil.which("chromium"):
        raise pytest.UsageError("chromium must be installed in CI (apt-get install chromium)")
