"""Statements on campaigns: create, read, list, edit, delete and lifecycle transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import TRANSITIONS, Action, CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import campaigns, deliveries, organizations
from campaignd.store.waiting import shown_counts

CAMPAIGN_COLUMNS = (*campaigns.c, organizations.c.slug.label("organization"))


def _scoped(organization_id: int | None) -> list[ColumnElement[bool]]:
    return [] if organization_id is None else [campaigns.c.organization_id == organization_id]


async def create_campaign(
    connection: AsyncConnection, *, organization_id: int, actor: str, **content: Any
) -> int:
    """Insert a draft campaign; ``content`` holds name, subject, bodies, addresses."""
    now = utcnow()
    statement = (
        insert(campaigns)
        .values(
            organization_id=organization_id,
            status=CampaignStatus.DRAFT.value,
            created_by=actor,
            created_at=now,
            updated_at=now,
            **content,
        )
        .returning(campaigns.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def get_campaign(
    connection: AsyncConnection, campaign_id: int, *, organization_id: int | None = None
) -> Row | None:
    """The campaign with its organization slug, or None (also when outside the scope)."""
    statement = (
        select(*CAMPAIGN_COLUMNS)
        .select_from(campaigns.join(organizations))
        .where(campaigns.c.id == campaign_id, *_scoped(organization_id))
    )
    return first(await connection.execute(statement))


async def list_campaigns(
    connection: AsyncConnection,
    *,
    organization_id: int | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Row]:
    """Newest first; ``before_id`` is the cursor (the last id of the previous page)."""
    conditions = _scoped(organization_id)
    if status is not None:
        conditions.append(campaigns.c.status == status)
    if before_id is not None:
        conditions.append(campaigns.c.id < before_id)
    statement = (
        select(*CAMPAIGN_COLUMNS)
        .select_from(campaigns.join(organizations))
        .where(*conditions)
        .order_by(campaigns.c.id.desc())
        .limit(limit)
    )
    return every(await connection.execute(statement))


async def count_campaigns(connection: AsyncConnection, *, organization_id: int) -> int:
    statement = select(func.count()).where(campaigns.c.organization_id == organization_id)
    return int((await connection.execute(statement)).scalar_one())


async def delivery_counts(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, dict[str, int]]:
    """Per campaign, the number of deliveries in each status (as shown: ``store.waiting``);
    for a pruned campaign, the counts its rows had when they were deleted."""
    if not campaign_ids:
        return {}
    statement = (
        select(deliveries.c.campaign_id, deliveries.c.status, func.count())
        .where(deliveries.c.campaign_id.in_(campaign_ids))
        .group_by(deliveries.c.campaign_id, deliveries.c.status)
    )
    stored: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, status, count in (await connection.execute(statement)).all():
        stored[int(campaign_id)][str(status)] = int(count)
    states = select(campaigns.c.id, campaigns.c.fanned_out_at, campaigns.c.pruned_counts).where(
        campaigns.c.id.in_(campaign_ids)
    )
    shown: dict[int, dict[str, int]] = {
        campaign_id: shown_counts(counts, fanned_out=False)
        for campaign_id, counts in stored.items()
    }
    for campaign_id, fanned_out_at, pruned_counts in (await connection.execute(states)).all():
        if pruned_counts is not None:
            shown[int(campaign_id)] = {str(key): int(value) for key, value in pruned_counts.items()}
        else:
            shown[int(campaign_id)] = shown_counts(
                stored[int(campaign_id)], fanned_out=fanned_out_at is not None
            )
    return shown


async def fanned_out_among(connection: AsyncConnection, campaign_ids: list[int]) -> set[int]:
    """Which of ``campaign_ids`` are fanned out (their waiting deliveries are the queue)."""
    statement = select(campaigns.c.id).where(
        campaigns.c.id.in_(campaign_ids), campaigns.c.fanned_out_at.is_not(None)
    )
    return {int(value) for value in (await connection.execute(statement)).scalars()}


async def transition(
    connection: AsyncConnection,
    campaign_id: int,
    action: Action,
    *,
    organization_id: int | None = None,
    conditions: tuple[ColumnElement[bool], ...] = (),
    now: datetime | None = None,
    **values: Any,
) -> Row | None:
    """Apply ``action`` by one conditional update; None when not allowed (or not found).

    The allowed-from statuses come from the transition table in ``domain``.
    """
    sources, target = TRANSITIONS[action]
    changes: dict[str, Any] = {"updated_at": now or utcnow(), **values}
    if target is not None:
        changes["status"] = target.value
    statement = (
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status.in_([status.value for status in sources]),
            *_scoped(organization_id),
            *conditions,
        )
        .values(**changes)
        .returning(*campaigns.c)
    )
    return first(await connection.execute(statement))


async def delete_campaign(
    connection: AsyncConnection, campaign_id: int, *, organization_id: int | None = None
) -> bool:
    """Delete a draft and its deliveries (``deliveries.campaign_id`` is no declared key, so
    nothing cascades to them). The campaign row goes first: that waits for an import
    holding it, whose rows the second statement then sees."""
    sources, _ = TRANSITIONS[Action.DELETE]
    statement = delete(campaigns).where(
        campaigns.c.id == campaign_id,
        campaigns.c.status.in_([status.value for status in sources]),
        *_scoped(organization_id),
    )
    if (await connection.execute(statement)).rowcount != 1:
        return False
    await connection.execute(delete(deliveries).where(deliveries.c.campaign_id == campaign_id))
    return True


async def next_due_time(connection: AsyncConnection) -> datetime | None:
    """The earliest ``scheduledFor`` of a scheduled campaign."""
    statement = select(func.min(campaigns.c.scheduled_for)).where(
        campaigns.c.status == CampaignStatus.SCHEDULED.value
    )
    value: datetime | None = (await connection.execute(statement)).scalar_one_or_none()
    return value


async def due_campaign_ids(
    connection: AsyncConnection, *, now: datetime, limit: int = 100
) -> list[int]:
    statement = (
        select(campaigns.c.id)
        .where(
            campaigns.c.status == CampaignStatus.SCHEDULED.value,
            campaigns.c.scheduled_for <= now,
        )
        .order_by(campaigns.c.scheduled_for)
        .limit(limit)
    )
    return [int(value) for value in (await connection.execute(statement)).scalars()]


async def campaigns_to_fan_out(connection: AsyncConnection) -> list[int]:
    """Started campaigns (sending or paused) whose recipients are not fanned out yet."""
    statement = (
        select(campaigns.c.id)
        .where(
            campaigns.c.status.in_([CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value]),
            campaigns.c.fanned_out_at.is_(None),
        )
        .order_by(campaigns.c.started_at, campaigns.c.id)
    )
    return [int(value) for value in (await connection.execute(statement)).scalars()]


async def upcoming_campaigns(
    connection: AsyncConnection, *, until: datetime, organization_id: int | None = None
) -> list[Row]:
    """Scheduled campaigns due before ``until``, soonest first, with their recipient counts."""
    recipient_count = (
        select(func.count())
        .where(deliveries.c.campaign_id == campaigns.c.id)
        .scalar_subquery()
        .label("recipient_count")
    )
    statement = (
        select(*CAMPAIGN_COLUMNS, recipient_count)
        .select_from(campaigns.join(organizations))
        .where(
            campaigns.c.status == CampaignStatus.SCHEDULED.value,
            campaigns.c.scheduled_for <= until,
            *_scoped(organization_id),
        )
        .order_by(campaigns.c.scheduled_for, campaigns.c.id)
    )
    return every(await connection.execute(statement))


async def copy_campaign(
    connection: AsyncConnection, campaign_id: int, *, name: str, actor: str
) -> int:
    """A new draft with the content of ``campaign_id`` under ``name``; returns its id."""
    content = [campaigns.c[field] for field in COPIED_FIELDS]
    source = select(
        campaigns.c.organization_id,
        *content,
    ).where(campaigns.c.id == campaign_id)
    row = (await connection.execute(source)).mappings().one()
    return await create_campaign(
        connection,
        organization_id=int(row["organization_id"]),
        actor=actor,
        name=name,
        **{field: row[field] for field in COPIED_FIELDS},
    )


COPIED_FIELDS = (
    "subject",
    "html_body",
    "text_body",
    "from_address",
    "reply_to",
    "body_format",
    "layout",
    "category",
    "track_clicks",
    "track_opens",
    "send_window",
    "capped_recipients",
    "defer_until",
)
"""What a copy keeps besides its recipients: the content, its send window and what becomes
of capped recipients, never the schedule (nor a local time) or status."""
