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


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def rows(count: int) -> str:
    return plural(count, "delivery row")


def campaigns_phrase(count: int) -> str:
    return plural(count, "campaign")


def campaign_rows(delivery_rows: int, events: int) -> str:
    """``25 delivery rows``, with ``and 7 opens and clicks`` when there are any."""
    if not events:
        return rows(delivery_rows)
    return f"{rows(delivery_rows)} and {events:,} " + (
        "open or click" if events == 1 else "opens and clicks"
    )


def webhook_phrase(messages: int, attempts: int) -> str:
    return f"{plural(messages, 'webhook message')} (with {plural(attempts, 'attempt')})"


def say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def prune(
    older_than: str | None = typer.Option(
        None,
        "--older-than",
        metavar="AGE",
        help="Prune campaigns finished, and webhook messages delivered or given up, more than"
        " AGE days ago (like 180d); default: CAMPAIGND_RETENTION_DAYS.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be deleted; delete nothing."
    ),
) -> None:
    """Delete the per-recipient rows of campaigns finished long ago, and old webhook messages.

    Only campaigns that are sent, failed or cancelled, and finished before the age given,
    lose their delivery rows and their opens and clicks (in batches, while sending goes
    on). The campaigns stay, with their counts per status and their report's figures,
    their runs, the audit log, the suppression list and the cooldown ledger: the cooldown
    still holds for every person pruned. Webhook messages delivered or given up before the
    age given go with their attempts; pending and retrying ones stay. Nothing is pruned
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
    before = f"before {found.cutoff:%Y-%m-%d %H:%M} UTC"
    if found.empty:
        say(
            f"nothing to prune: no campaign finished {before} (more than {found.days} days"
            " ago) has delivery rows, and no webhook message was delivered or given up"
            " as long ago"
        )
        return
    if dry_run:
        if found.campaigns:
            say(
                f"would delete {campaign_rows(found.rows, found.events)} of "
                f"{campaigns_phrase(len(found.campaigns))} finished {before}"
                f" (more than {found.days} days ago)"
            )
            for campaign in found.campaigns:
                say(
                    f"  campaign {campaign.id} '{campaign.name}': "
                    f"{campaign_rows(campaign.rows, campaign.events)}"
                )
        if found.webhook_messages:
            say(
                f"would delete {webhook_phrase(found.webhook_messages, found.webhook_attempts)}"
                f" delivered or given up {before}"
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

    async def work(services: Services, principal: Principal) -> retention.Pruned:
        with bar:
            task = bar.add_task("pruning", total=found.total)
            return await retention.prune(
                services, principal, found, on_rows=lambda count: bar.advance(task, count)
            )

    done = run_action(settings, work)
    if found.campaigns:
        say(
            f"deleted {campaign_rows(done.rows, done.events)} of "
            f"{campaigns_phrase(len(found.campaigns))} finished {before}; their counts,"
            " report figures, runs and cooldown entries stay"
        )
    if done.webhook_messages:
        say(
            f"deleted {webhook_phrase(done.webhook_messages, done.webhook_attempts)}"
            f" delivered or given up {before}; pending and retrying ones stay"
        )
