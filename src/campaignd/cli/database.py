"""``campaignd db``: the schema."""

from __future__ import annotations

import typer

from campaignd.cli.common import console, settings_or_exit
from campaignd.store.migrate import upgrade as apply_migrations

app = typer.Typer(no_args_is_help=True, help="Manage the database schema.")


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="Migration to upgrade to (default: the newest)."),
) -> None:
    """Apply migrations to CAMPAIGND_DATABASE_URL (required for PostgreSQL; safe to repeat)."""
    settings = settings_or_exit()
    apply_migrations(settings.database_url, revision)
    console.print(f"database is at revision {revision}")
