"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


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


async def refresh_statistics(connection: AsyncConnection, table: Table) -> None:
    """PostgreSQL: sample ``table`` again for the planner, now, inside this transaction.

    After a statement added many rows, the statements that follow in the same transaction
    would be planned with statistics that do not know them (a new campaign's rows look like
    a handful: nested loops over a million). ``ANALYZE`` in a transaction counts its own
    rows; ``SKIP_LOCKED`` makes it give up at once rather than wait behind a vacuum.
    SQLite plans without such statistics.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f'ANALYZE (SKIP_LOCKED) "{table.name}"'))
