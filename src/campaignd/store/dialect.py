"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` with ``ON CONFLICT`` support for the dialect in use."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_ignoring_conflicts(
    dialect: str, table: Table, keys: list[str]
) -> postgresql.Insert | sqlite.Insert:
    return upsert(dialect, table).on_conflict_do_nothing(index_elements=keys)
