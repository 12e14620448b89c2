"""``campaignd runs``: the execution log, one row per run, failed runs included."""

from __future__ import annotations

import typer
from rich.table import Table

from campaignd.actions import campaigns as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.output import JSON, Field, print_json, print_table, record
from campaignd.store.rows import Row

RUN_FIELDS: tuple[Field, ...] = (
    "id",
    "campaign_id",
    "name",
    "status",
    "trigger",
    "actor",
    "scheduled_for",
    ("executedAt", "started_at"),
    "finished_at",
    "recipient_count",
    "queued",
    "sent",
    "failed",
    "skipped",
    "error",
    "lateness_seconds",
)
"""A run in ``--json`` output, as the API's execution log has it (``executedAt``: its start)."""


def _lateness(row: Row) -> str:
    seconds = row.get("lateness_seconds")
    return "-" if seconds is None else f"{seconds:.3f}s"


def runs(
    limit: int = typer.Option(
        20, metavar="N", help="How many runs (newest first).", min=1, max=1000
    ),
    as_json: bool = JSON,
) -> None:
    """The execution log: one row per run, failed runs included.

    Newest first: the trigger, actor, start, lateness, end, counts and error of each run.

    \b
    Example:
      campaignd runs --limit 50
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> list[Row]:
        return await actions.execution_log(services, principal, limit=limit)

    rows = run_action(settings, work)
    if as_json:
        print_json({"executions": [record(row, RUN_FIELDS) for row in rows]})
        return
    table = Table(
        "run",
        "campaign",
        "status",
        "trigger",
        "actor",
        "started",
        "lateness",
        "finished",
        "sent",
        "failed",
        "skipped",
        "error",
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            f"{row['campaign_id']} {row['name']}",
            row["status"],
            row["trigger"],
            row["actor"] or "scheduler",
            format_time(row["started_at"]),
            _lateness(row),
            format_time(row["finished_at"]),
            str(row["sent"]),
            str(row["failed"]),
            str(row["skipped"]),
            row["error"] or "",
        )
    print_table(table)
