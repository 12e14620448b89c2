"""Statements of bounces and complaints: events applied, counters per campaign, the
soft bounces of an address, and tokens of webhook requests already accepted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, distinct, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.feedback import CampaignFigures
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.campaigns import delivery_counts
from campaignd.store.dialect import upsert
from campaignd.store.schema import (
    campaign_feedback,
    campaigns,
    cooldown_ledger,
    deliveries,
    feedback_events,
    suppressions,
    webhook_replays,
)

SENT_STATUSES = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.BOUNCED.value,
    DeliveryStatus.COMPLAINED.value,
)
"""Deliveries whose message went out (a bounce or a complaint came back for some)."""


@dataclass(frozen=True)
class DeliveryTarget:
    delivery_id: int
    campaign_id: int
    organization_id: int
    email: str
    status: str


@dataclass(frozen=True)
class Counters:
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0


async def delivery_target(connection: AsyncConnection, delivery_id: int) -> DeliveryTarget | None:
    """The delivery with its campaign and organization, or None when it is gone."""
    statement = (
        select(
            deliveries.c.id,
            deliveries.c.campaign_id,
            campaigns.c.organization_id,
            deliveries.c.email,
            deliveries.c.status,
        )
        .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
        .where(deliveries.c.id == delivery_id)
    )
    row = (await connection.execute(statement)).first()
    if row is None:
        return None
    return DeliveryTarget(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]))


async def record_event(
    connection: AsyncConnection,
    *,
    organization_id: int,
    source: str,
    event_id: str,
    kind: str,
    email: str,
    delivery_id: int | None,
    campaign_id: int | None,
    detail: str | None,
    now: datetime,
) -> bool:
    """Store one event; False when ``(source, event_id)`` was stored before (a repeat)."""
    statement = (
        upsert(connection.dialect.name, feedback_events)
        .values(
            organization_id=organization_id,
            source=source,
            event_id=event_id[:255],
            kind=kind,
            email=email,
            delivery_id=delivery_id,
            campaign_id=campaign_id,
            detail=detail,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(feedback_events.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def change_delivery_status(
    connection: AsyncConnection, delivery_id: int, *, status: str, from_statuses: Sequence[str]
) -> bool:
    statement = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(list(from_statuses)))
        .values(status=status)
    )
    return bool((await connection.execute(statement)).rowcount)


async def events_of_delivery(connection: AsyncConnection, delivery_id: int, kind: str) -> int:
    statement = select(func.count()).where(
        feedback_events.c.delivery_id == delivery_id, feedback_events.c.kind == kind
    )
    return int((await connection.execute(statement)).scalar_one())


async def soft_bounces_of(connection: AsyncConnection, *, organization_id: int, email: str) -> int:
    """How many distinct messages to the address soft-bounced (events without a delivery
    count one each)."""
    each = case(
        (feedback_events.c.delivery_id.is_not(None), feedback_events.c.delivery_id),
        else_=-feedback_events.c.id,
    )
    statement = select(func.count(distinct(each))).where(
        feedback_events.c.organization_id == organization_id,
        feedback_events.c.email == email,
        feedback_events.c.kind == "soft_bounce",
    )
    return int((await connection.execute(statement)).scalar_one())


async def count_event(connection: AsyncConnection, campaign_id: int, column: str) -> None:
    """Add one to the campaign's counter ``column`` (``hard_bounces``, ``soft_bounces``,
    ``complaints``)."""
    statement = upsert(connection.dialect.name, campaign_feedback).values(
        campaign_id=campaign_id, **{column: 1}
    )
    statement = statement.on_conflict_do_update(
        index_elements=["campaign_id"],
        set_={column: campaign_feedback.c[column] + 1},
    )
    await connection.execute(statement)


async def counters_of(connection: AsyncConnection, campaign_id: int) -> Counters:
    statement = select(
        campaign_feedback.c.hard_bounces,
        campaign_feedback.c.soft_bounces,
        campaign_feedback.c.complaints,
    ).where(campaign_feedback.c.campaign_id == campaign_id)
    row = (await connection.execute(statement)).first()
    if row is None:
        return Counters()
    return Counters(int(row[0]), int(row[1]), int(row[2]))


async def sent_count(connection: AsyncConnection, campaign_id: int) -> int:
    """Messages of the campaign that went out (one count on the delivery index)."""
    statement = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status.in_(SENT_STATUSES))
    )
    return int((await connection.execute(statement)).scalar_one())


async def remember_token(
    connection: AsyncConnection, *, provider: str, token: str, now: datetime
) -> bool:
    """Remember a webhook request's token; False when it was seen before (a replay)."""
    statement = (
        upsert(connection.dialect.name, webhook_replays)
        .values(provider=provider, token=token[:255], seen_at=now)
        .on_conflict_do_nothing(index_elements=["provider", "token"])
        .returning(webhook_replays.c.token)
    )
    return (await connection.execute(statement)).first() is not None


async def forget_tokens(
    connection: AsyncConnection, *, before: datetime, providers: Sequence[str]
) -> int:
    """Forget the replay tokens of ``providers`` seen before ``before`` (providers whose
    requests carry a signed timestamp: one that old is refused by it anyway); how many."""
    result = await connection.execute(
        delete(webhook_replays).where(
            webhook_replays.c.seen_at < before, webhook_replays.c.provider.in_(list(providers))
        )
    )
    return int(result.rowcount)


async def unsubscribed_after(connection: AsyncConnection, campaign_id: int) -> int:
    """Recipients of the campaign whose address was unsubscribed after their message went
    out.

    Read from the suppression list's side: the organization's unsubscribes since the
    campaign was created (``ix_suppressions_reason_time``; every message of it went out
    after that), each probed on the campaign's deliveries: as many probes as unsubscribes,
    however many messages the campaign sent (1,000 beside a 1M campaign: 5.6 ms, against
    19 ms for the join it replaces, which was only that fast when the planner started from
    the suppression list).
    """
    campaign = (
        await connection.execute(
            select(campaigns.c.organization_id, campaigns.c.created_at).where(
                campaigns.c.id == campaign_id
            )
        )
    ).first()
    if campaign is None:
        return 0
    organization_id, created_at = campaign
    went_out_before = exists().where(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.email == suppressions.c.email,
        deliveries.c.status.in_(SENT_STATUSES),
        deliveries.c.sent_at <= suppressions.c.created_at,
    )
    statement = (
        select(func.count())
        .select_from(suppressions)
        .where(
            suppressions.c.organization_id == organization_id,
            suppressions.c.reason == "unsubscribed",
            suppressions.c.created_at >= created_at,
            went_out_before,
        )
    )
    return int((await connection.execute(statement)).scalar_one())


async def figures_of(
    connection: AsyncConnection, campaign_id: int, counts: Mapping[str, int] | None = None
) -> CampaignFigures:
    """The campaign's figures; ``counts`` (its deliveries per status, when the caller has
    them already) saves one count."""
    if counts is None:
        counts = (await delivery_counts(connection, [campaign_id]))[campaign_id]
    counters = await counters_of(connection, campaign_id)
    return CampaignFigures(
        sent=sum(int(counts.get(status, 0)) for status in SENT_STATUSES),
        hard_bounces=counters.hard_bounces,
        soft_bounces=counters.soft_bounces,
        complaints=counters.complaints,
        unsubscribed=await unsubscribed_after(connection, campaign_id),
    )


RECENT_CAMPAIGNS = 50
"""How many of the latest campaigns started a bounce that kept only its address is
looked for in (bounces come back within days)."""


async def last_delivery_to(
    connection: AsyncConnection, email: str, *, organization_id: int | None = None
) -> int | None:
    """The latest sent delivery to ``email``, for a bounce that kept nothing but the
    address: in the campaign the cooldown ledger names, or else among the latest
    ``RECENT_CAMPAIGNS`` campaigns started (each looked up on its (campaign, address)
    index, never a scan of every delivery); None when there is none. ``organization_id``:
    only that organization's campaigns."""
    scoped = () if organization_id is None else (campaigns.c.organization_id == organization_id,)
    ledger = (
        select(cooldown_ledger.c.campaign_id)
        .join(campaigns, campaigns.c.id == cooldown_ledger.c.campaign_id)
        .where(cooldown_ledger.c.email == email, *scoped)
        .order_by(cooldown_ledger.c.contacted_at.desc())
        .limit(1)
    )
    recent = (
        select(campaigns.c.id)
        .where(campaigns.c.started_at.is_not(None), *scoped)
        .order_by(campaigns.c.started_at.desc())
        .limit(RECENT_CAMPAIGNS)
    )
    for candidates in (ledger, recent):
        statement = (
            select(deliveries.c.id)
            .where(
                deliveries.c.campaign_id.in_(candidates.scalar_subquery()),
                deliveries.c.email == email,
                deliveries.c.status.in_(SENT_STATUSES),
            )
            .order_by(deliveries.c.id.desc())
            .limit(1)
        )
        found = (await connection.execute(statement)).scalar()
        if found is not None:
            return int(found)
    return None
