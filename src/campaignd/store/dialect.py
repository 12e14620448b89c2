"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import ARRAY, Subquery, Table, Text, bindparam, func, select, text
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


def value_table(dialect: str, values: Sequence[str], name: str = "value") -> Subquery:
    """``values`` as a one-column table (column ``name``) bound as a single parameter: an
    array read by ``unnest`` on PostgreSQL, a JSON array read by ``json_each`` on SQLite.

    A statement over a hundred thousand addresses stays one statement with one parameter
    (``IN (...)`` would bind each address on its own).
    """
    if dialect == "postgresql":
        array = bindparam(None, list(values), type_=ARRAY(Text))
        rows = func.unnest(array).table_valued(name).render_derived()
        return select(rows.c[name]).subquery()
    document = bindparam(None, json.dumps(list(values)), type_=Text)
    each = func.json_each(document).table_valued("value")
    return select(each.c.value.label(name)).subquery()
