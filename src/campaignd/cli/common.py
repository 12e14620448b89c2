"""What every command needs: settings (with a readable error) and a database handle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from campaignd.settings import Settings, SettingsError, load_settings
from campaignd.store.database import Database, is_sqlite, open_database
from campaignd.store.migrate import has_schema, upgrade

T = TypeVar("T")

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise fail(f"bad configuration: {error}", 2) from None


def ensure_schema(settings: Settings) -> None:
    """SQLite gets its schema (and upgrades) by itself; PostgreSQL needs ``db upgrade``."""
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    elif not has_schema(settings.database_url):
        raise fail("the database has no schema yet: run `campaignd db upgrade` first")


def run_with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with a database handle on a fresh event loop, then close it."""

    async def main() -> T:
        database = open_database(settings, pool_size=2)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())
