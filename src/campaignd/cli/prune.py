"""``campaignd prune``: delete the per-recipient rows of campaigns finished long ago."""

from __future__ import annotations

import re

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from campaignd.actions import retention
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.common import console, errors, fail

AGE = re.compile(r"(\d{1,5})d?")


def parse_age(text: str) -> int:
    """``180d`` or ``180``: a number of days."""
    match = AGE.fullmatch(text.strip())
    if match is None:
        raise fail(f"--older-than: '{text}' is not a number of days, like 180d")
    return int(match.group(1))


def rows(count: int) -> str:
    return f"{count:,} delivery row" + ("" if count == 1 else "s")


def campaigns_phrase(count: int) -> str:
    return f"{count:,} campaign" + ("" if count == 1 else "s")


def prune(
    older_than: str | None = typer.Option(
        None,
        "--older-than",
        metavar="AGE",
        help="Prune campaigns finished more than AGE days ago (like 180d); default:"
        " CAMPAIGND_RETENTION_DAYS.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be deleted; delete nothing."
    ),
) -> None:
    """Delete the per-recipient rows of campaigns finished long ago.

    Only campaigns that are sent, failed or cancelled, and finished before the age given,
    lose their delivery rows (in batches, while sending goes on). The campaigns stay, with
    their counts per status, their runs, the audit log, the suppression list and the
    cooldown ledger: the cooldown still holds for every person pruned. Nothing is pruned
    unless asked: by this command or, daily, by the scheduler when CAMPAIGND_RETENTION_DAYS
    is set.

    \b
    Examples:
      campaignd prune --older-than 180d --dry-run
      campaignd prune --older-than 180d
    """
    days = parse_age(older_than) if older_than is not None else None
    settings = prepared_settings()

    async def plan(services: Services, principal: Principal) -> retention.PrunePlan:
        return await retention.plan_prune(services, principal, older_than_days=days)

    found = run_action(settings, plan)
    summary = (
        f"{rows(found.rows)} of {campaigns_phrase(len(found.campaigns))} finished before "
        f"{found.cutoff:%Y-%m-%d %H:%M} UTC (more than {found.days} days ago)"
    )
    if not found.campaigns:
        console.print(
            f"nothing to prune: no campaign finished before {found.cutoff:%Y-%m-%d %H:%M} UTC"
            f" (more than {found.days} days ago) has delivery rows",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        return
    if dry_run:
        console.print(f"would delete {summary}", highlight=False, soft_wrap=True, markup=False)
        for campaign in found.campaigns:
            console.print(
                f"  campaign {campaign.id} '{campaign.name}': {rows(campaign.rows)}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        return

    bar = Progress(
        TextColumn("pruning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    )

    async def work(services: Services, principal: Principal) -> int:
        with bar:
            task = bar.add_task("pruning", total=found.rows)
            return await retention.prune(
                services, principal, found, on_rows=lambda count: bar.advance(task, count)
            )

    deleted = run_action(settings, work)
    console.print(
        f"deleted {rows(deleted)} of {campaigns_phrase(len(found.campaigns))} finished before "
        f"{found.cutoff:%Y-%m-%d %H:%M} UTC; their counts, runs and cooldown entries stay",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
