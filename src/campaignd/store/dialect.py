"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Table, Text, cast, func, literal, text
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


def keyed_json(dialect: str, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON column as it is best read key after key: PostgreSQL parses a ``json`` value
    again at every ``->``, so it gets the value cast to ``jsonb`` (parsed once; read it from
    ``read_once``). SQLite reads its JSON text as it is."""
    return cast(column, JSONB) if dialect == "postgresql" else column


def read_once(dialect: str, statement: Select[Any]) -> Select[Any]:
    """``statement`` as a subquery whose columns are computed once per row: PostgreSQL
    would otherwise merge it into the outer query and repeat an expression (a cast) at
    every place that uses its column. ``OFFSET 0`` keeps it whole; SQLite needs nothing."""
    return statement.offset(0) if dialect == "postgresql" else statement


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
