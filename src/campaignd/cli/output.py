"""How listings are printed: a table for people, whole and uncut when piped; JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from campaignd.cli.common import console

PIPED_WIDTH = 100_000
"""Columns of a table written to a pipe or a file: wide enough that no cell is cut or
wrapped (a table is only as wide as its widest row; nothing is padded to this)."""

JSON = typer.Option(
    False, "--json", help="Print JSON (the API's field names) instead of a table, for scripts."
)


def print_table(table: Table) -> None:
    """On a terminal as wide as it is; piped or redirected, every cell whole on one line."""
    if console.is_terminal:
        console.print(table, markup=False)
        return
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "ignore"
    Console(width=PIPED_WIDTH, no_color=True, highlight=False, markup=False).print(table)


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def json_value(value: Any) -> Any:
    """Times as ISO 8601 in UTC with ``Z`` (as the API writes them), the rest as JSON."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


Field = str | tuple[str, str]
"""A row's field, named in JSON in camelCase, or ``(json name, field)``."""


def record(row: Mapping[str, Any], fields: Iterable[Field]) -> dict[str, Any]:
    """``fields`` of ``row``, in order, under their JSON names."""
    document: dict[str, Any] = {}
    for field in fields:
        name, key = field if isinstance(field, tuple) else (camel_case(field), field)
        document[name] = json_value(row.get(key))
    return document


def print_json(document: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
