"""``campaignd db``: the schema."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from campaignd.cli.common import command_group, console, database_name, fail, settings_or_exit
from campaignd.store.migrate import current_revision, known_revision, newest_revision
from campaignd.store.migrate import upgrade as apply_migrations

app = command_group("Manage the database schema.")


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option(
        "head",
        metavar="REVISION",
        help="The migration to upgrade to; head (the default) is the newest.",
    ),
) -> None:
    """Apply migrations and print the revision reached.

    Migrates the database of CAMPAIGND_DATABASE_URL. Required for PostgreSQL before the
    first start and after each upgrade of campaignd (SQLite is migrated by serve); safe to
    repeat.
    """
    if not known_revision(revision):
        raise fail(f"--revision: no migration '{revision}' (the newest is {newest_revision()})")
    settings = settings_or_exit()
    url = settings.database_url
    try:
        before = current_revision(url)
        apply_migrations(url, revision)
        reached = current_revision(url)
    except OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise fail(f"cannot open the database {database_name(url)}: {reason}") from None
    newest = " (the newest)" if reached == newest_revision() else ""
    if reached == before:
        console.print(
            f"database {database_name(url)} is at revision {reached}{newest}; nothing to do",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    else:
        console.print(
            f"database {database_name(url)} upgraded from revision {before or '(empty)'} "
            f"to {reached}{newest}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
