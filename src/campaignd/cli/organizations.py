"""``campaignd org``: organizations."""

from __future__ import annotations

import re

import typer
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from campaignd.cli.common import (
    command_group,
    console,
    ensure_schema,
    fail,
    run_with_database,
    settings_or_exit,
)
from campaignd.cli.output import JSON, print_json, print_table, record
from campaignd.store.database import Database
from campaignd.store.organizations import create_organization, list_organizations
from campaignd.store.rows import Row

app = command_group("Manage organizations.")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@app.command("create")
def create(
    slug: str = typer.Argument(
        ..., metavar="SLUG", help="Short name: lower-case letters, digits and dashes."
    ),
    name: str | None = typer.Option(None, metavar="NAME", help="Display name (default: the slug)."),
) -> None:
    """Create an organization.

    An organization has its own campaigns, suppression list and tokens.

    \b
    Example:
      campaignd org create acme --name "Acme Inc."
    """
    if not SLUG.match(slug):
        raise fail(f"'{slug}' is not a valid slug: use lower-case letters, digits and dashes")
    settings = settings_or_exit()
    ensure_schema(settings, create=True)

    async def work(database: Database) -> Row:
        async with database.transaction() as connection:
            return await create_organization(connection, slug=slug, name=name or slug)

    try:
        row = run_with_database(settings, work)
    except IntegrityError:
        raise fail(f"organization '{slug}' already exists") from None
    console.print(f"created organization {row['slug']} (id {row['id']})")


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List organizations: id, slug and name."""
    settings = settings_or_exit()
    ensure_schema(settings)

    async def work(database: Database) -> list[Row]:
        async with database.connection() as connection:
            return await list_organizations(connection)

    rows = run_with_database(settings, work)
    if as_json:
        fields = ("id", "slug", "name", "created_at")
        print_json({"organizations": [record(row, fields) for row in rows]})
        return
    table = Table("id", "slug", "name")
    for row in rows:
        table.add_row(str(row["id"]), row["slug"], row["name"])
    print_table(table)
