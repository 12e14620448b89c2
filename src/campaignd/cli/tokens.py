"""``campaignd token``: API tokens (shown once, stored hashed)."""

from __future__ import annotations

import typer
from rich.table import Table

from campaignd.actions.principal import Role
from campaignd.cli.common import (
    command_group,
    console,
    ensure_schema,
    fail,
    not_found,
    run_with_database,
    settings_or_exit,
)
from campaignd.cli.output import JSON, Field, print_json, print_table, record
from campaignd.store import tokens
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.rows import Row

app = command_group("Manage API tokens.")


@app.command("create")
def create(
    role: Role = typer.Option(
        ...,
        metavar="platform_admin|organization_admin|viewer",
        help="What the token may do: everything, one organization, or read only.",
    ),
    org: str | None = typer.Option(
        None, metavar="SLUG", help="The organization (required unless platform_admin)."
    ),
    name: str | None = typer.Option(None, metavar="NAME", help="A name to recognise the token by."),
) -> None:
    """Create an API token and print it (only it, on stdout).

    The token is shown this once and stored hashed; it starts with cmp_.

    \b
    Examples:
      campaignd token create --role platform_admin --name ops
      campaignd token create --role viewer --org acme --name dashboard
    """
    if role is not Role.PLATFORM_ADMIN and not org:
        raise fail(f"--org is required for a {role.value} token")
    settings = settings_or_exit()
    ensure_schema(settings, create=role is Role.PLATFORM_ADMIN)

    async def work(database: Database) -> str | None:
        async with database.transaction() as connection:
            organization_id = None
            if org:
                organization = await organization_by_slug(connection, org)
                if organization is None:
                    return None
                organization_id = int(organization["id"])
            _, token = await tokens.create_token(
                connection,
                role=role.value,
                organization_id=organization_id,
                name=name or role.value,
            )
            return token

    token = run_with_database(settings, work)
    if token is None:
        raise not_found(
            settings, f"no organization '{org}'", f"create it with `campaignd org create {org}`"
        )
    print(token)


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List tokens: id, name, role, organization (never the secret)."""
    settings = settings_or_exit()
    ensure_schema(settings)

    async def work(database: Database) -> list[Row]:
        async with database.connection() as connection:
            return await tokens.list_tokens(connection)

    rows = run_with_database(settings, work)
    if as_json:
        fields: tuple[Field, ...] = (
            "id",
            "name",
            "role",
            ("organization", "organization_slug"),
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        print_json({"tokens": [record(row, fields) for row in rows]})
        return
    table = Table("id", "name", "role", "organization", "starts with", "created", "revoked")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"],
            row["role"],
            row["organization_slug"] or "-",
            row["prefix"] + "…",
            row["created_at"].strftime("%Y-%m-%d %H:%M"),
            row["revoked_at"].strftime("%Y-%m-%d %H:%M") if row["revoked_at"] else "",
        )
    print_table(table)


@app.command("revoke")
def revoke(
    token_id: int = typer.Argument(..., metavar="ID", help="The id shown by `token list`."),
) -> None:
    """Revoke a token: it stops working at once."""
    settings = settings_or_exit()
    ensure_schema(settings)

    async def work(database: Database) -> bool:
        async with database.transaction() as connection:
            return await tokens.revoke_token(connection, token_id)

    if not run_with_database(settings, work):
        raise not_found(settings, f"no live token with id {token_id}")
    console.print(f"token {token_id} revoked")
