"""Engine set-up for SQLite (WAL, busy timeout, foreign keys) and PostgreSQL (pool)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from campaignd.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 60_000
PRIVATE_FILE_MODE = 0o600

logger = logging.getLogger("campaignd.store")


def async_url(url: str) -> str:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` -> psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (migrations)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database (or not SQLite)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner only (0600, whatever the
    umask) before SQLite opens it: it holds the instance secrets and everyone's addresses.

    SQLite gives the ``-wal`` and ``-shm`` files it makes beside it the same mode. An
    existing file is left as it is, with a warning when others may read it.
    """
    path = sqlite_path(url)
    if path is None:
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "database file readable by others",
                extra={"path": str(path), "mode": oct(mode), "fix": f"chmod 600 {path}*"},
            )
        return
    except OSError:
        return  # no such folder, say: SQLite reports it when it opens the file
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)


def configure_sqlite(dbapi_connection: Any) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def begin_sqlite(connection: Any, statement: str) -> None:
    """``statement`` (``BEGIN ...``) on ``connection`` (SQLAlchemy's, in its ``begin``
    event), straight to aiosqlite: one hand-over to aiosqlite's thread, where
    ``exec_driver_sql`` takes three (a cursor, the statement, the cursor's close) and makes
    an execution context, for every transaction. It fails as ``exec_driver_sql`` would:
    with SQLAlchemy's ``DBAPIError`` of the driver's error (``OperationalError`` for a
    database that stays locked)."""
    driver = connection.connection.driver_connection
    if not isinstance(driver, aiosqlite.Connection):
        connection.exec_driver_sql(statement)
        return
    try:
        await_only(driver.execute(statement))
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            statement, None, error, sqlite3.Error, dialect=connection.dialect
        ) from error


@dataclass(frozen=True)
class Timeouts:
    """PostgreSQL connection limits: a database that stops answering fails a call after
    a bounded time instead of hanging the scheduler or a worker."""

    connect_seconds: int = 10
    statement_seconds: float = 300.0  # 0: no limit
    keepalive_idle_seconds: int = 30

    def postgresql_arguments(self) -> dict[str, Any]:
        """libpq's connect timeout and TCP keepalives; the server's statement timeout and
        keepalives (so both ends notice a connection that went dead)."""
        interval = max(1, self.keepalive_idle_seconds // 3)
        server = [
            f"-c tcp_keepalives_idle={self.keepalive_idle_seconds}",
            f"-c tcp_keepalives_interval={interval}",
            "-c tcp_keepalives_count=3",
        ]
        if self.statement_seconds > 0:
            server.append(f"-c statement_timeout={int(self.statement_seconds * 1000)}")
        return {
            "connect_timeout": self.connect_seconds,
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle_seconds,
            "keepalives_interval": interval,
            "keepalives_count": 3,
            "options": " ".join(server),
        }


class Database:
    """The one handle on the database: read connections and writer transactions.

    On SQLite a writer transaction starts with ``BEGIN IMMEDIATE`` so that it takes the
    write lock up front (waiting under the busy timeout) instead of failing when a read
    turns into a write; reads use deferred transactions and never block writers (WAL).
    """

    def __init__(self, url: str, *, pool_size: int = 10, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        options: dict[str, Any] = {}
        if not self.is_sqlite:
            options = {
                "pool_size": pool_size,
                "max_overflow": pool_size,
                "pool_pre_ping": True,
                "connect_args": (timeouts or Timeouts()).postgresql_arguments(),
            }
        self.engine: AsyncEngine = create_async_engine(async_url(url), **options)
        if self.is_sqlite:
            create_private_sqlite_file(url)
            self._install_sqlite_hooks()

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def _install_sqlite_hooks(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            configure_sqlite(dbapi_connection)

        @event.listens_for(sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
            begin_sqlite(connection, f"BEGIN {mode}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A writer transaction, committed on success and rolled back on error."""
        connection = await self.writer_connection()
        try:
            async with connection.begin():
                yield connection
        finally:
            await connection.close()

    async def writer_connection(self) -> AsyncConnection:
        """A pooled connection whose transactions are writer transactions (``BEGIN
        IMMEDIATE`` on SQLite), for a caller that keeps it across transactions; close it to
        return it to the pool."""
        connection = await self.engine.connect()
        return await connection.execution_options(write=True)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction."""
        async with self.engine.connect() as connection, connection.begin():
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()


def open_database(settings: Settings, *, pool_size: int = 10) -> Database:
    """The database of ``settings``, with its connection limits."""
    timeouts = Timeouts(
        connect_seconds=settings.database_connect_timeout,
        statement_seconds=settings.database_statement_timeout,
        keepalive_idle_seconds=settings.database_keepalive_idle,
    )
    return Database(settings.database_url, pool_size=pool_size, timeouts=timeouts)
