"""``campaignd serve``: run an instance."""

from __future__ import annotations

import contextlib

import typer

from campaignd.cli.common import (
    console,
    ensure_schema,
    fail,
    run_with_database,
    settings_or_exit,
)
from campaignd.logs import configure_logging
from campaignd.settings import Role
from campaignd.store.database import Database
from campaignd.store.sending_lock import AlreadySending, sending_process
from campaignd.store.tokens import count_live_tokens, create_token


async def _first_admin_token(database: Database) -> str | None:
    """A platform admin token when none exists yet (first start), else None."""
    async with database.transaction() as connection:
        if await count_live_tokens(connection) > 0:
            return None
        _, token = await create_token(
            connection, role="platform_admin", organization_id=None, name="first admin"
        )
        return token


def serve(
    host: str = typer.Option("127.0.0.1", help="Address the API and admin UI listen on."),
    port: int = typer.Option(8000, help="Port the API and admin UI listen on."),
    role: str = typer.Option(
        "all", help="all, or one of api, scheduler, worker (split roles across processes)."
    ),
    burst: bool = typer.Option(
        False, "--burst", help="Scheduler and workers drain what is due now, then exit (no API)."
    ),
) -> None:
    """Run the API, admin UI, scheduler and delivery workers (or one --role of them).

    On an empty SQLite database the schema is created; on first start a platform admin
    token is printed once. SIGTERM drains: no new claims, in-flight messages finish.
    """
    if role not in ("all", "api", "scheduler", "worker"):
        raise typer.BadParameter("must be all, api, scheduler or worker", param_hint="--role")
    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    ensure_schema(settings)
    token = run_with_database(settings, _first_admin_token)
    if token is not None:
        admin_url = f"http://{host}:{port}/admin/login"
        console.print(
            "\n[bold]First start.[/bold] Your platform admin token (shown only this once):\n"
            f"\n  {token}\n\nSign in at {admin_url}\n",
            highlight=False,
        )
    from campaignd import runtime

    typed_role: Role = role  # type: ignore[assignment]
    sending = runtime.sends(typed_role)
    try:
        with sending_process(settings.database_url) if sending else contextlib.nullcontext():
            if burst:
                runtime.run_event_loop(runtime.burst(settings, role=typed_role))
                return
            runtime.run_event_loop(runtime.serve(settings, role=typed_role, host=host, port=port))
    except AlreadySending as error:
        raise fail(str(error)) from None
