"""Runs: starting a campaign (claim + run row), closing it, cancelling it, the execution log."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import Action, CampaignStatus, DeliveryStatus, Trigger
from campaignd.store.campaigns import delivery_counts, transition
from campaignd.store.columns import utcnow
from campaignd.store.layouts import fix_campaign_layout
from campaignd.store.ledger import give_back_reservations
from campaignd.store.outbox import record_event
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import campaigns, deliveries, runs
from campaignd.store.unfinished import nothing_left_to_send
from campaignd.store.waiting import QUEUED


async def start_campaign(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    trigger: Trigger,
    actor: str | None,
    now: datetime,
    organization_id: int | None = None,
    misfire_grace: float | None = None,
) -> Row | None:
    """Claim a campaign for sending and open its run; None when someone else won or not allowed.

    ``trigger=schedule`` claims only a campaign that is due and within ``misfire_grace``.
    """
    if trigger is Trigger.SCHEDULE:
        conditions = [campaigns.c.scheduled_for <= now]
        if misfire_grace is not None:
            conditions.append(campaigns.c.scheduled_for >= now - timedelta(seconds=misfire_grace))
        action = Action.START_DUE
    else:
        conditions, action = [], Action.EXECUTE
    campaign = await transition(
        connection,
        campaign_id,
        action,
        organization_id=organization_id,
        conditions=tuple(conditions),
        now=now,
        started_at=now,
        fanned_out_at=None,
        finished_at=None,
        status_reason=None,
        consecutive_errors=0,
    )
    if campaign is None:
        return None
    await fix_campaign_layout(connection, campaign_id)
    scheduled_for = campaign["scheduled_for"] if trigger is Trigger.SCHEDULE else None
    lateness = (now - scheduled_for).total_seconds() if scheduled_for is not None else None
    statement = (
        insert(runs)
        .values(
            campaign_id=campaign_id,
            organization_id=campaign["organization_id"],
            trigger=trigger.value,
            actor=actor,
            status=CampaignStatus.SENDING.value,
            live=True,
            scheduled_for=scheduled_for,
            started_at=now,
            lateness_seconds=lateness,
        )
        .returning(*runs.c)
    )
    run = first(await connection.execute(statement))
    assert run is not None
    await record_event(
        connection,
        int(campaign["organization_id"]),
        "campaign.started",
        {
            "campaignId": campaign_id,
            "campaignName": campaign["name"],
            "runId": run["id"],
            "trigger": trigger.value,
            "actor": actor,
            "startedAt": now.isoformat().replace("+00:00", "Z"),
        },
        now=now,
    )
    return run


async def mark_missed(
    connection: AsyncConnection, *, now: datetime, misfire_grace: float
) -> list[Row]:
    """Scheduled campaigns overdue beyond the grace window become ``missed``."""
    cutoff = now - timedelta(seconds=misfire_grace)
    statement = (
        update(campaigns)
        .where(
            campaigns.c.status == CampaignStatus.SCHEDULED.value, campaigns.c.scheduled_for < cutoff
        )
        .values(
            status=CampaignStatus.MISSED.value,
            updated_at=now,
            status_reason="missed: the service was not running when it was due",
        )
        .returning(campaigns.c.id, campaigns.c.name, campaigns.c.scheduled_for)
    )
    return every(await connection.execute(statement))


async def live_run(connection: AsyncConnection, campaign_id: int) -> Row | None:
    statement = select(runs).where(runs.c.campaign_id == campaign_id, runs.c.live)
    return first(await connection.execute(statement))


async def _status_counts(connection: AsyncConnection, campaign_id: int) -> dict[str, int]:
    counts = await delivery_counts(connection, [campaign_id])
    return counts[campaign_id]


async def refresh_run_counts(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    counts: dict[str, int] | None = None,
    **values: object,
) -> dict[str, int]:
    """Copy the delivery counts of a campaign onto its live run, with when they were counted
    and the seconds the count took (``store.run_counts``); ``counts``, when the caller has
    just counted in the same transaction, are used instead of counting again."""
    counted_at, started = utcnow(), time.monotonic()
    if counts is None:
        counts = await _status_counts(connection, campaign_id)
    await connection.execute(
        update(runs)
        .where(runs.c.campaign_id == campaign_id, runs.c.live)
        .values(
            counted_at=counted_at,
            count_seconds=time.monotonic() - started,
            recipient_count=sum(counts.values()),
            queued=counts.get("queued", 0) + counts.get("sending", 0),
            sent=counts.get("sent", 0),
            failed=counts.get("failed", 0),
            skipped=counts.get("skipped", 0),
            **values,
        )
    )
    return counts


async def close_run(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    status: str,
    now: datetime,
    error: str | None = None,
    counts: dict[str, int] | None = None,
) -> None:
    await refresh_run_counts(
        connection,
        campaign_id,
        counts=counts,
        live=False,
        status=status,
        finished_at=now,
        error=error,
    )


async def finish_if_done(
    connection: AsyncConnection, campaign_id: int, *, now: datetime
) -> Row | None:
    """``sending`` -> ``sent`` (or ``failed``) once no delivery is left to send; closes the run."""
    campaign = await transition(
        connection,
        campaign_id,
        Action.FINISH,
        conditions=(nothing_left_to_send(campaign_id), campaigns.c.fanned_out_at.is_not(None)),
        now=now,
        finished_at=now,
    )
    if campaign is None:
        return None
    counts = await _status_counts(connection, campaign_id)
    outcome = CampaignStatus.SENT
    if counts.get("sent", 0) == 0 and counts.get("failed", 0) > 0:
        outcome = CampaignStatus.FAILED
        await connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(status=outcome.value, status_reason="no message could be sent")
        )
    error = "no message could be sent" if outcome is CampaignStatus.FAILED else None
    await close_run(
        connection, campaign_id, status=outcome.value, now=now, error=error, counts=counts
    )
    campaign["status"] = outcome.value
    await _record_finished(connection, campaign, counts, now=now, error=error)
    return campaign


async def _record_finished(
    connection: AsyncConnection,
    campaign: Row,
    counts: dict[str, int],
    *,
    now: datetime,
    error: str | None,
) -> None:
    """The ``campaign.finished`` webhook event, in the transaction that finishes it."""
    await record_event(
        connection,
        int(campaign["organization_id"]),
        "campaign.finished",
        {
            "campaignId": campaign["id"],
            "campaignName": campaign["name"],
            "status": campaign["status"],
            "finishedAt": now.isoformat().replace("+00:00", "Z"),
            "error": error,
            "counts": {
                "sent": counts.get("sent", 0),
                "failed": counts.get("failed", 0),
                "skipped": counts.get("skipped", 0),
                "cancelled": counts.get("cancelled", 0),
            },
        },
        now=now,
    )


async def fail_unfanned(
    connection: AsyncConnection, campaign_id: int, *, now: datetime, error: str
) -> Row | None:
    """A started campaign whose fan-out keeps failing ends ``failed``; its run keeps the error."""
    statement = (
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status.in_([CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value]),
            campaigns.c.fanned_out_at.is_(None),
        )
        .values(
            status=CampaignStatus.FAILED.value,
            status_reason=f"fan-out failed: {error}",
            finished_at=now,
            updated_at=now,
        )
        .returning(*campaigns.c)
    )
    campaign = first(await connection.execute(statement))
    if campaign is not None:
        await close_run(
            connection, campaign_id, status=CampaignStatus.FAILED.value, now=now, error=error
        )
        counts = await _status_counts(connection, campaign_id)
        await _record_finished(connection, campaign, counts, now=now, error=error)
    return campaign


async def cancel_campaign(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    now: datetime,
    organization_id: int | None = None,
    scope: int,
) -> Row | None:
    """Cancel; waiting deliveries become ``cancelled`` and give their reservations back.

    The waiting rows are cancelled first and exactly those give their reservations back (a
    campaign is cancelled once, so its cancelled rows are the ones just cancelled): a
    delivery claimed meanwhile is not waiting any more and keeps its reservation; its
    worker sends and records it, or hands it back cancelled, giving the reservation back.
    """
    campaign = await transition(
        connection,
        campaign_id,
        Action.CANCEL,
        organization_id=organization_id,
        now=now,
        finished_at=now,
    )
    if campaign is None:
        return None
    mine = deliveries.c.campaign_id == campaign_id
    await connection.execute(
        update(deliveries)
        .where(mine, deliveries.c.status == QUEUED)
        .values(status=DeliveryStatus.CANCELLED.value, lease_owner=None)
    )
    await give_back_reservations(
        connection,
        campaign_id=campaign_id,
        scope=scope,
        emails=select(deliveries.c.email).where(
            mine, deliveries.c.status == DeliveryStatus.CANCELLED.value
        ),
    )
    if await live_run(connection, campaign_id) is not None:
        await close_run(connection, campaign_id, status=CampaignStatus.CANCELLED.value, now=now)
    return campaign


async def execution_log(
    connection: AsyncConnection, *, organization_id: int | None = None, limit: int = 100
) -> list[Row]:
    """One row per run, newest first, failed and cancelled runs included."""
    conditions = [] if organization_id is None else [runs.c.organization_id == organization_id]
    statement = (
        select(runs, campaigns.c.name)
        .select_from(runs.join(campaigns))
        .where(*conditions)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return every(await connection.execute(statement))


async def runs_of_campaign(connection: AsyncConnection, campaign_id: int) -> list[Row]:
    statement = select(runs).where(runs.c.campaign_id == campaign_id).order_by(runs.c.id.desc())
    return every(await connection.execute(statement))
