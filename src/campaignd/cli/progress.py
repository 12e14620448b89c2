"""Rich progress bars shared by the commands: bytes of a file read, rows written, and a
campaign going out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from campaignd.actions import campaigns as campaign_actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.common import console, errors
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row

FINAL_STATUSES = frozenset(
    {CampaignStatus.SENT.value, CampaignStatus.FAILED.value, CampaignStatus.CANCELLED.value}
)
DONE_DELIVERIES = ("sent", "failed", "skipped", "bounced", "complained")
LINE_EVERY = 5.0
"""Seconds between plain progress lines when the output is not a terminal."""


def bytes_progress(output: Console | None = None) -> Progress:
    """A bar for reading a file (on stderr, so stdout stays the report)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=output or errors,
    )


def rows_progress(output: Console | None = None) -> Progress:
    """A bar for rows written (an export), on stderr, so stdout stays the file."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=output or errors,
    )


def sending_progress(output: Console | None = None) -> Progress:
    """A bar for a campaign: finished deliveries (sent + failed + skipped) of its recipients."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=output or console,
    )


def finished_deliveries(campaign: Row) -> int:
    counts: dict[str, int] = campaign["counts"]
    return sum(counts.get(status, 0) for status in DONE_DELIVERIES)


def describe(campaign: Row) -> str:
    """``sending``, or ``scheduled, starts in 4s`` while waiting for its time."""
    status = str(campaign["status"])
    when = campaign.get("scheduled_for")
    if status == CampaignStatus.SCHEDULED.value and when is not None:
        seconds = max(0, round((when - utcnow()).total_seconds()))
        return f"scheduled, starts in {seconds}s"
    return status


def counts_detail(campaign: Row) -> str:
    counts: dict[str, int] = campaign["counts"]
    return " ".join(f"{status} {counts.get(status, 0)}" for status in DONE_DELIVERIES)


def progress_line(campaign: Row) -> str:
    """``campaign 12 sending: 1200/3000 sent, 3 failed, 0 skipped``: the bar in words."""
    counts: dict[str, int] = campaign["counts"]
    return (
        f"campaign {campaign['id']} {describe(campaign)}: "
        f"{counts.get('sent', 0)}/{campaign['recipient_count']} sent, "
        f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped"
    )


def _show(progress: Progress, task: TaskID, campaign: Row) -> None:
    progress.update(
        task,
        total=max(1, int(campaign["recipient_count"])),
        completed=finished_deliveries(campaign),
        description=f"campaign {campaign['id']}: {describe(campaign)}",
        detail=counts_detail(campaign),
    )


async def watch_campaign(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    interval: float = 0.5,
    until: Callable[[Row], bool] | None = None,
    output: Console | None = None,
    every: float = LINE_EVERY,
) -> Row:
    """Show a live bar, polling the database, until the campaign is final; returns it then.

    When ``output`` is not a terminal (a pipe, a file, a CI log) a bar would only be drawn
    at the end: a plain progress line is printed instead, at once, every ``every`` seconds
    and whenever the status changes.
    """
    finished = until or (lambda campaign: campaign["status"] in FINAL_STATUSES)
    target = output or console
    campaign = await campaign_actions.get_campaign(services, principal, campaign_id)
    if not target.is_terminal:
        return await _watch_in_lines(
            services, principal, campaign, finished, target, interval=interval, every=every
        )
    with sending_progress(output) as progress:
        task = progress.add_task("", total=None, detail="")
        _show(progress, task, campaign)
        while not finished(campaign):
            await asyncio.sleep(interval)
            campaign = await campaign_actions.get_campaign(services, principal, campaign_id)
            _show(progress, task, campaign)
    return campaign


async def _watch_in_lines(
    services: Services,
    principal: Principal,
    campaign: Row,
    finished: Callable[[Row], bool],
    output: Console,
    *,
    interval: float,
    every: float,
) -> Row:
    def show(row: Row) -> float:
        output.print(progress_line(row), highlight=False, soft_wrap=True, markup=False)
        return time.monotonic()

    shown_at, shown_status = show(campaign), campaign["status"]
    while not finished(campaign):
        await asyncio.sleep(interval)
        campaign = await campaign_actions.get_campaign(services, principal, int(campaign["id"]))
        changed = campaign["status"] != shown_status
        if changed or finished(campaign) or time.monotonic() - shown_at >= every:
            shown_at, shown_status = show(campaign), campaign["status"]
    return campaign
