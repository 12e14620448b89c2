"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    String,
    Table,
    TableValuedAlias,
    cast,
    column,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement


def upsert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` with ``ON CONFLICT`` support for the dialect in use."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_ignoring_conflicts(
    dialect: str, table: Table, keys: list[str]
) -> postgresql.Insert | sqlite.Insert:
    return upsert(dialect, table).on_conflict_do_nothing(index_elements=keys)


async def allow_memory_for_joins(connection: AsyncConnection, megabytes: int) -> None:
    """PostgreSQL: let this transaction's hash joins and sorts use ``megabytes`` each.

    The default ``work_mem`` (4 MB) splits a join of a large audience with the contact
    ledger into batches written to disk. SQLite has no such setting.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f"SET LOCAL work_mem = '{int(megabytes)}MB'"))


def object_entries(dialect: str, document: ColumnElement[str]) -> TableValuedAlias:
    """The ``key`` and ``value`` (as text) of each member of a JSON object given as text:
    ``json_each`` on SQLite, ``json_each_text`` on PostgreSQL. One parameter carries a
    whole batch of rows into one statement."""
    if dialect == "postgresql":
        entries = func.json_each_text(cast(document, JSON))
    else:
        entries = func.json_each(document)
    return entries.table_valued(column("key", String), column("value", String), name="entries")


def iso_utc_text(dialect: str, moment: ColumnElement[Any]) -> ColumnElement[str]:
    """A stored UTC time as ``2026-12-01T08:30:00Z``, made by the database (a million rows
    need no Python datetime)."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", moment)
        return func.to_char(utc, literal_column('\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''), type_=String)
    return func.strftime("%Y-%m-%dT%H:%M:%SZ", moment, type_=String)


async def refresh_statistics(connection: AsyncConnection, table: Table) -> None:
    """PostgreSQL: ``ANALYZE`` ``table`` now, after a bulk load, rather than when autovacuum
    gets to it. Until then the planner takes the table for as small as it was, and may read
    a keyset page by sorting every row after the cursor instead of walking the index.
    SQLite plans from its indexes alone."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f'ANALYZE "{table.name}"'))
