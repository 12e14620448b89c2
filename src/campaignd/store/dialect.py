"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    String,
    Subquery,
    Table,
    TableValuedAlias,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
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


PARSE_ONCE_FROM_KEYS = 5
"""PostgreSQL parses a ``json`` value again at every ``->``: reading this many keys of each
row or more, one cast to ``jsonb`` per row costs less (measured on 1M rows: 1 key 0.6 s
read as it is, 2.4 s cast; 10 keys 4.8 s against 2.2 s)."""


def keyed_json_rows(
    dialect: str, column: ColumnElement[Any], *conditions: ColumnElement[bool], keys: int
) -> Subquery:
    """The rows matching ``conditions``, as one column ``document`` (``column``) to read
    ``keys`` keys from (``json_has_key``, ``json_text``).

    On PostgreSQL, from ``PARSE_ONCE_FROM_KEYS`` keys on, ``document`` is ``column`` cast
    to ``jsonb`` once per row, in a subquery kept whole by ``OFFSET 0`` (the planner would
    otherwise merge it into the outer query and repeat the cast at every use). SQLite reads
    its JSON text as it is.
    """
    if dialect == "postgresql" and keys >= PARSE_ONCE_FROM_KEYS:
        parsed = select(cast(column, JSONB).label("document")).where(*conditions).offset(0)
        return parsed.subquery("keyed_rows")
    return select(column.label("document")).where(*conditions).subquery("keyed_rows")


def json_has_key(dialect: str, document: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    """The JSON object ``document`` has ``key``, whatever its value (null included)."""
    if dialect == "postgresql":
        return document.op("->", return_type=JSONB)(literal(key, Text)).is_not(None)
    return func.json_type(document, literal(_sqlite_path(key), Text)).is_not(None)


def json_text(dialect: str, document: ColumnElement[Any], key: str) -> ColumnElement[str]:
    """The value at ``key`` of the JSON object ``document`` as text; NULL when the key is
    absent or its value is null."""
    if dialect == "postgresql":
        return document.op("->>", return_type=Text)(literal(key, Text))
    return func.json_extract(document, literal(_sqlite_path(key), Text), type_=Text)


def _sqlite_path(key: str) -> str:
    """The JSON path to one key, quoted (so ``$`` or ``.`` would not count); template
    variables are identifiers, which never hold the ``"`` SQLite cannot escape there."""
    if not key.isidentifier():
        raise ValueError(f"not a variable name: {key!r}")
    return f'$."{key}"'


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
    """PostgreSQL: sample ``table`` again for the planner, now, inside this transaction.

    After a statement added many rows, the statements that follow in the same transaction
    would be planned with statistics that do not know them (a new campaign's rows look like
    a handful: nested loops over a million). ``ANALYZE`` in a transaction counts its own
    rows; ``SKIP_LOCKED`` makes it give up at once rather than wait behind a vacuum.
    SQLite plans without such statistics.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f'ANALYZE (SKIP_LOCKED) "{table.name}"'))
