"""Rich progress bars shared by the commands: bytes of a file read, and a campaign going out."""

from __future__ import annotations

import asyncio
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
DONE_DELIVERIES = ("sent", "failed", "skipped")


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
) -> Row:
    """Show a live bar, polling the database, until the campaign is final; returns it then."""
    finished = until or (lambda campaign: campaign["status"] in FINAL_STATUSES)
    campaign = await campaign_actions.get_campaign(services, principal, campaign_id)
    with sending_progress(output) as progress:
        task = progress.add_task("", total=None, detail="")
        _show(progress, task, campaign)
        while not finished(campaign):
            await asyncio.sleep(interval)
            campaign = await campaign_actions.get_campaign(services, principal, campaign_id)
            _show(progress, task, campaign)
    return campaign
