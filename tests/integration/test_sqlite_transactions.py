"""SQLite transactions begin straight through the driver (``store.database.begin_sqlite``):
they still take the write lock up front, and fail as SQLAlchemy's errors when they cannot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from campaignd.scheduling.retry import is_retryable
from campaignd.store import database as database_module
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'campaignd.db'}"
    upgrade(address)
    return address


async def test_a_writer_transaction_holds_the_write_lock_and_commits(url: str) -> None:
    database = Database(url)
    other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.05, isolation_level=None)
    try:
        async with database.transaction() as connection:
            await connection.execute(text("CREATE TABLE probe (value INTEGER)"))
            await connection.execute(text("INSERT INTO probe VALUES (1)"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # taken at BEGIN, before any write
        async with database.connection() as connection:
            assert (await connection.execute(text("SELECT value FROM probe"))).scalar() == 1
    finally:
        other.close()
        await database.dispose()


async def test_a_locked_database_fails_as_an_operational_error_worth_retrying(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    database = Database(url)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked") as raised:
            async with database.transaction():
                pass
        assert is_retryable(raised.value)
        async with database.connection() as connection:  # reads are not blocked (WAL)
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        holder.rollback()
        holder.close()
        await database.dispose()
