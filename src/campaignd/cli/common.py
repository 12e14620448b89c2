"""What every command needs: settings (with a readable error) and a database handle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from campaignd.cli.help import Commands
from campaignd.settings import Settings, SettingsError, load_settings
from campaignd.store.database import Database, is_sqlite, open_database, sqlite_path
from campaignd.store.migrate import has_schema, upgrade

T = TypeVar("T")

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def command_group(help: str) -> typer.Typer:
    """A group of subcommands, with plain help (``campaignd.cli.help``)."""
    return Commands(no_args_is_help=True, help=help)


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def note(message: str) -> None:
    """Something the user should know, on stderr, without stopping."""
    errors.print(f"[yellow]note:[/yellow] {escape(message)}", highlight=False)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise fail(f"bad configuration: {error}", 2) from None


def database_name(url: str) -> str:
    """The database as a person can find it: a SQLite URL with its file's absolute path
    when the URL's is relative; any other URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return url if path.is_absolute() else f"{url} ({path.resolve()})"
    return make_url(url).render_as_string(hide_password=True)


def not_found(settings: Settings, detail: str, hint: str = "") -> typer.Exit:
    """Something named is not there: say which database was looked in."""
    message = f"{detail} in {database_name(settings.database_url)}"
    return fail(f"{message}; {hint}" if hint else message)


def _missing_file(settings: Settings, path: Path) -> str:
    url = settings.database_url
    if "database_url" in settings.model_fields_set:
        source = f"CAMPAIGND_DATABASE_URL={url}"
    else:
        source = f"CAMPAIGND_DATABASE_URL is not set: the default {url}, in the current folder"
    return (
        f"no database at {path.resolve()} ({source}); this command creates none. "
        "Run it in the folder where `campaignd serve` runs, or point at the database with "
        "CAMPAIGND_DATABASE_URL=sqlite:////path/to/campaignd.db"
    )


def ensure_schema(settings: Settings, *, create: bool = False) -> None:
    """SQLite gets its schema (and upgrades) by itself; PostgreSQL needs ``db upgrade``.

    Without ``create`` a missing SQLite file is an error naming it, not a new, empty
    database: commands that read or change what exists never create one.
    """
    url = settings.database_url
    path = sqlite_path(url)
    if path is not None and not create and not path.exists():
        raise fail(_missing_file(settings, path))
    try:
        if is_sqlite(url):
            upgrade(url)
            return
        schema = has_schema(url)
    except OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise fail(f"cannot open the database {database_name(url)}: {reason}") from None
    if not schema:
        raise fail(
            f"the database {database_name(url)} has no schema yet: run `campaignd db upgrade` first"
        )


def run_with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with a database handle on a fresh event loop, then close it."""

    async def main() -> T:
        database = open_database(settings, pool_size=2)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())
