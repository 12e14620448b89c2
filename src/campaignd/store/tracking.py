"""Statements of click and open tracking: the numbered links of a campaign, recording
opens and clicks (one ``INSERT ... SELECT`` for a whole batch), and the figures of the
report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Insert,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    distinct,
    exists,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.dialect import insert_ignoring_conflicts, iso_utc_text
from campaignd.store.schema import (
    campaign_links,
    campaigns,
    deliveries,
    suppressions,
    tracking_events,
)

OPEN = "open"
CLICK = "click"
TIMELINE_DAYS = 7


async def save_links(connection: AsyncConnection, campaign_id: int, links: Sequence[str]) -> None:
    """Store the numbered links of a campaign; numbers already stored keep their URL (the
    links are the same for every worker: the campaign's content cannot change while it
    sends)."""
    if not links:
        return
    statement = insert_ignoring_conflicts(
        connection.dialect.name, campaign_links, ["campaign_id", "link_index"]
    )
    await connection.execute(
        statement,
        [
            {"campaign_id": campaign_id, "link_index": index, "url": url}
            for index, url in enumerate(links)
        ],
    )


async def links_of(connection: AsyncConnection, campaign_id: int) -> tuple[str, ...]:
    """The campaign's tracked URLs, link ``n`` at index ``n``."""
    statement = (
        select(campaign_links.c.url)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(campaign_links.c.link_index)
    )
    return tuple(str(url) for url in (await connection.execute(statement)).scalars())


async def tracked_campaign(
    connection: AsyncConnection, campaign_id: int
) -> tuple[int, tuple[str, ...]] | None:
    """The campaign's organization and tracked URLs (link ``n`` at index ``n``); None when
    there is no such campaign."""
    organization_id = await connection.scalar(
        select(campaigns.c.organization_id).where(campaigns.c.id == campaign_id)
    )
    if organization_id is None:
        return None
    return int(organization_id), await links_of(connection, campaign_id)


def _not_suppressed() -> ColumnElement[bool]:
    return ~exists().where(
        suppressions.c.organization_id == campaigns.c.organization_id,
        suppressions.c.email == deliveries.c.email,
    )


@dataclass(frozen=True)
class Event:
    campaign_id: int
    delivery_id: int
    kind: str
    link_index: int | None
    machine: str | None
    at: datetime


EVENT_COLUMNS = ("campaign_id", "delivery_id", "kind", "link_index", "machine", "occurred_at")
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores a time in SQLite (UTC, as ``UtcDateTime`` binds it)."""


def _events_table(dialect: str) -> Any:
    """The parameter ``events`` (a JSON array of objects) as a table: ``jsonb_to_recordset``
    on PostgreSQL, ``json_each`` on SQLite."""
    if dialect == "postgresql":
        return (
            func.jsonb_to_recordset(cast(bindparam("events", type_=Text), JSONB))
            .table_valued(
                column("position", Integer),
                column("campaign_id", BigInteger),
                column("delivery_id", BigInteger),
                column("kind", Text),
                column("link_index", Integer),
                column("machine", Text),
                column("occurred_at", DateTime(timezone=True)),
            )
            .render_derived(name="events", with_types=True)
        )
    each = func.json_each(bindparam("events", type_=Text)).table_valued("value")
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$.{name}"), kind).label(name)
            for name, kind in (
                ("position", Integer()),
                ("campaign_id", BigInteger()),
                ("delivery_id", BigInteger()),
                ("kind", Text()),
                ("link_index", Integer()),
                ("machine", Text()),
                ("occurred_at", Text()),
            )
        )
    ).subquery("events")


_RECORD: dict[str, Insert] = {}


def _record_statement(dialect: str) -> Insert:
    """``record_events``'s one statement for ``dialect``, built once: every event of the
    parameter ``events`` whose delivery is its campaign's and whose address is not
    suppressed, inserted in the order they came."""
    if dialect not in _RECORD:
        events = _events_table(dialect)
        source = (
            select(
                deliveries.c.campaign_id,
                deliveries.c.id,
                events.c.kind,
                events.c.link_index,
                events.c.machine,
                events.c.occurred_at,
            )
            .select_from(
                events.join(
                    deliveries,
                    and_(
                        deliveries.c.id == events.c.delivery_id,
                        deliveries.c.campaign_id == events.c.campaign_id,
                    ),
                ).join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
            )
            .where(_not_suppressed())
            .order_by(events.c.position)
        )
        _RECORD[dialect] = insert(tracking_events).from_select(list(EVENT_COLUMNS), source)
    return _RECORD[dialect]


def _stored_time(dialect: str, moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.isoformat() if dialect == "postgresql" else utc.strftime(SQLITE_TIME)


async def record_events(connection: AsyncConnection, events: Sequence[Event]) -> None:
    """Record opens and clicks with one ``INSERT ... SELECT`` whatever their number (the
    events are one JSON parameter read as a table): nothing for an event whose delivery is
    not its campaign's (any more) or whose address is suppressed (unsubscribed, bounced,
    complained, or by hand): who asked to hear no more is not tracked either."""
    if not events:
        return
    dialect = connection.dialect.name
    document = json.dumps(
        [
            {
                "position": position,
                "campaign_id": event.campaign_id,
                "delivery_id": event.delivery_id,
                "kind": event.kind,
                "link_index": event.link_index,
                "machine": event.machine,
                "occurred_at": _stored_time(dialect, event.at),
            }
            for position, event in enumerate(events)
        ],
        separators=(",", ":"),
    )
    await connection.execute(_record_statement(dialect), {"events": document})


async def record_event(
    connection: AsyncConnection,
    *,
    campaign_id: int,
    delivery_id: int,
    kind: str,
    link_index: int | None,
    machine: str | None,
    at: datetime,
) -> bool:
    """Record one open or click, in one statement; nothing when the delivery is not the
    campaign's (any more) or the address is suppressed (unsubscribed, bounced, complained,
    or by hand): who asked to hear no more is not tracked either. True when recorded."""
    source = (
        select(
            deliveries.c.campaign_id,
            deliveries.c.id,
            literal(kind),
            literal(link_index),
            literal(machine),
            literal(at, tracking_events.c.occurred_at.type),
        )
        .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.campaign_id == campaign_id,
            _not_suppressed(),
        )
    )
    statement = insert(tracking_events).from_select(
        ["campaign_id", "delivery_id", "kind", "link_index", "machine", "occurred_at"], source
    )
    result = await connection.execute(statement)
    return bool(result.rowcount)


@dataclass(frozen=True)
class Outcomes:
    """What happened to the messages: from delivery statuses and the suppression list."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0


async def outcome_figures(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, Outcomes]:
    """Per campaign: sent and failed (delivery statuses); bounced, complained and
    unsubscribed (recipients whose address was suppressed for that reason since the
    campaign started); delivered (sent, less the sent ones that bounced). A pruned
    campaign's are those it had when it was pruned (``report_snapshot``).

    The one place these figures come from, so that bounce and complaint intake can be
    wired in here."""
    frozen = await frozen_reports(connection, campaign_ids)
    live = await _live_outcomes(connection, [key for key in campaign_ids if key not in frozen])
    return {
        key: Outcomes(**frozen[key]["outcomes"]) if key in frozen else live[key]
        for key in campaign_ids
    }


async def _live_outcomes(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, Outcomes]:
    if not campaign_ids:
        return {}
    statuses = (
        select(deliveries.c.campaign_id, deliveries.c.status, func.count())
        .where(
            deliveries.c.campaign_id.in_(campaign_ids),
            deliveries.c.status.in_([DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value]),
        )
        .group_by(deliveries.c.campaign_id, deliveries.c.status)
    )
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, status, count in (await connection.execute(statuses)).all():
        counts[int(campaign_id)][str(status)] = int(count)
    suppressed = (
        select(deliveries.c.campaign_id, deliveries.c.status, suppressions.c.reason, func.count())
        .select_from(
            deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id).join(
                suppressions,
                and_(
                    suppressions.c.organization_id == campaigns.c.organization_id,
                    suppressions.c.email == deliveries.c.email,
                ),
            )
        )
        .where(
            deliveries.c.campaign_id.in_(campaign_ids),
            deliveries.c.status.in_([DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value]),
            campaigns.c.started_at.is_not(None),
            suppressions.c.created_at >= campaigns.c.started_at,
        )
        .group_by(deliveries.c.campaign_id, deliveries.c.status, suppressions.c.reason)
    )
    reasons: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    bounced_sent: dict[int, int] = dict.fromkeys(campaign_ids, 0)
    for campaign_id, status, reason, count in (await connection.execute(suppressed)).all():
        key = int(campaign_id)
        reasons[key][str(reason)] = reasons[key].get(str(reason), 0) + int(count)
        if reason == "bounced" and status == DeliveryStatus.SENT.value:
            bounced_sent[key] += int(count)
    figures = {}
    for campaign_id in campaign_ids:
        sent = counts[campaign_id].get(DeliveryStatus.SENT.value, 0)
        figures[campaign_id] = Outcomes(
            sent=sent,
            delivered=sent - bounced_sent[campaign_id],
            failed=counts[campaign_id].get(DeliveryStatus.FAILED.value, 0),
            bounced=reasons[campaign_id].get("bounced", 0),
            complained=reasons[campaign_id].get("complained", 0),
            unsubscribed=reasons[campaign_id].get("unsubscribed", 0),
        )
    return figures


@dataclass(frozen=True)
class Engagement:
    """Opens and clicks; "unique" counts recipients, the others every fetch."""

    unique_opens: int = 0
    """Recipients a person opened the message of (at least one open not a machine's)."""
    machine_opens: int = 0
    """Recipients whose message only machines opened (privacy proxies, scanners)."""
    opens: int = 0
    """Every open by a person."""
    unique_clicks: int = 0
    """Recipients who clicked at least one tracked link (not a machine)."""
    machine_clicks: int = 0
    """Recipients whose links only machines followed."""
    clicks: int = 0
    """Every click by a person."""


async def engagement_figures(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, Engagement]:
    """Per campaign: its opens and clicks (a pruned campaign's as they were then)."""
    frozen = await frozen_reports(connection, campaign_ids)
    live = await _live_engagement(connection, [key for key in campaign_ids if key not in frozen])
    return {
        key: Engagement(**frozen[key]["engagement"]) if key in frozen else live[key]
        for key in campaign_ids
    }


async def _live_engagement(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, Engagement]:
    if not campaign_ids:
        return {}
    event = tracking_events.c
    is_open, is_click = event.kind == OPEN, event.kind == CLICK
    person, machine = event.machine.is_(None), event.machine.is_not(None)
    per_delivery = (
        select(
            event.campaign_id,
            event.delivery_id,
            func.count(case((and_(is_open, person), event.id))).label("opens"),
            func.count(case((and_(is_open, machine), event.id))).label("machine_opens"),
            func.count(case((and_(is_click, person), event.id))).label("clicks"),
            func.count(case((and_(is_click, machine), event.id))).label("machine_clicks"),
        )
        .where(event.campaign_id.in_(campaign_ids))
        .group_by(event.campaign_id, event.delivery_id)
        .subquery()
    )
    row = per_delivery.c
    statement = select(
        row.campaign_id,
        func.count(case((row.opens > 0, 1))),
        func.count(case((and_(row.opens == 0, row.machine_opens > 0), 1))),
        func.coalesce(func.sum(row.opens), 0),
        func.count(case((row.clicks > 0, 1))),
        func.count(case((and_(row.clicks == 0, row.machine_clicks > 0), 1))),
        func.coalesce(func.sum(row.clicks), 0),
    ).group_by(row.campaign_id)
    figures = {campaign_id: Engagement() for campaign_id in campaign_ids}
    for campaign_id, *values in (await connection.execute(statement)).all():
        figures[int(campaign_id)] = Engagement(*(int(value) for value in values))
    return figures


async def machine_reasons(connection: AsyncConnection, campaign_id: int) -> dict[str, int]:
    """Machine opens and clicks of a campaign per reason (every fetch)."""
    frozen = await frozen_reports(connection, [campaign_id])
    if campaign_id in frozen:
        return {str(key): int(value) for key, value in frozen[campaign_id]["machine"].items()}
    return await _live_machine_reasons(connection, campaign_id)


async def _live_machine_reasons(connection: AsyncConnection, campaign_id: int) -> dict[str, int]:
    statement = (
        select(tracking_events.c.machine, func.count())
        .where(
            tracking_events.c.campaign_id == campaign_id,
            tracking_events.c.machine.is_not(None),
        )
        .group_by(tracking_events.c.machine)
    )
    return {str(reason): int(count) for reason, count in (await connection.execute(statement))}


@dataclass(frozen=True)
class LinkClicks:
    index: int
    url: str
    clicks: int
    unique_clicks: int


async def link_clicks(connection: AsyncConnection, campaign_id: int) -> list[LinkClicks]:
    """Each tracked link with its clicks by people, in the order of the body."""
    frozen = await frozen_reports(connection, [campaign_id])
    if campaign_id in frozen:
        return [
            LinkClicks(int(index), str(url), int(clicks), int(unique))
            for index, url, clicks, unique in frozen[campaign_id]["links"]
        ]
    return await _live_link_clicks(connection, campaign_id)


async def _live_link_clicks(connection: AsyncConnection, campaign_id: int) -> list[LinkClicks]:
    event = tracking_events.c
    joined = campaign_links.outerjoin(
        tracking_events,
        and_(
            event.campaign_id == campaign_links.c.campaign_id,
            event.link_index == campaign_links.c.link_index,
            event.kind == CLICK,
            event.machine.is_(None),
        ),
    )
    statement = (
        select(
            campaign_links.c.link_index,
            campaign_links.c.url,
            func.count(event.id),
            func.count(distinct(event.delivery_id)),
        )
        .select_from(joined)
        .where(campaign_links.c.campaign_id == campaign_id)
        .group_by(campaign_links.c.link_index, campaign_links.c.url)
        .order_by(campaign_links.c.link_index)
    )
    return [
        LinkClicks(int(index), str(url), int(clicks), int(unique))
        for index, url, clicks, unique in (await connection.execute(statement)).all()
    ]


def _hour(dialect: str, moment: ColumnElement[datetime]) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", moment), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", moment)


async def hourly_events(
    connection: AsyncConnection, campaign_id: int, since: datetime, *, days: int = TIMELINE_DAYS
) -> list[tuple[datetime, str, int]]:
    """(hour, kind, count) of people's opens and clicks in the first ``days`` after
    ``since``, oldest first; hours with none left out. A pruned campaign's are those of its
    first ``TIMELINE_DAYS`` after its start, as they were when it was pruned."""
    frozen = await frozen_reports(connection, [campaign_id])
    if campaign_id in frozen:
        return [
            (datetime.fromisoformat(str(hour)), str(kind), int(count))
            for hour, kind, count in frozen[campaign_id]["timeline"]
        ]
    return await _live_hourly_events(connection, campaign_id, since, days=days)


async def _live_hourly_events(
    connection: AsyncConnection, campaign_id: int, since: datetime, *, days: int
) -> list[tuple[datetime, str, int]]:
    hour = _hour(connection.dialect.name, tracking_events.c.occurred_at).label("hour")
    statement = (
        select(hour, tracking_events.c.kind, func.count())
        .where(
            tracking_events.c.campaign_id == campaign_id,
            tracking_events.c.machine.is_(None),
            tracking_events.c.occurred_at >= since,
            tracking_events.c.occurred_at < since + timedelta(days=days),
        )
        .group_by(hour, tracking_events.c.kind)
        .order_by(hour)
    )
    return [
        (datetime.strptime(str(text), "%Y-%m-%d %H").replace(tzinfo=UTC), str(kind), int(count))
        for text, kind, count in (await connection.execute(statement)).all()
    ]


async def frozen_reports(
    connection: AsyncConnection, campaign_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The report figures kept of the pruned ones among ``campaign_ids``."""
    if not campaign_ids:
        return {}
    statement = select(campaigns.c.id, campaigns.c.pruned_report).where(
        campaigns.c.id.in_(list(campaign_ids)), campaigns.c.pruned_report.is_not(None)
    )
    return {int(key): dict(report) for key, report in (await connection.execute(statement)).all()}


async def report_snapshot(
    connection: AsyncConnection, campaign_id: int, started_at: datetime | None
) -> dict[str, Any]:
    """Every figure of the campaign's report, as JSON, read from its per-recipient rows:
    kept in ``campaigns.pruned_report`` when those rows are pruned, and shown from then on."""
    outcomes = (await _live_outcomes(connection, [campaign_id]))[campaign_id]
    engagement = (await _live_engagement(connection, [campaign_id]))[campaign_id]
    links = await _live_link_clicks(connection, campaign_id)
    hours = (
        await _live_hourly_events(connection, campaign_id, started_at, days=TIMELINE_DAYS)
        if started_at is not None
        else []
    )
    return {
        "outcomes": vars(outcomes),
        "engagement": vars(engagement),
        "links": [[link.index, link.url, link.clicks, link.unique_clicks] for link in links],
        "machine": await _live_machine_reasons(connection, campaign_id),
        "timeline": [[hour.isoformat(), kind, count] for hour, kind, count in hours],
    }


EXPORT_COLUMNS = (
    "email",
    "status",
    "code",
    "reason",
    "sent_at",
    "opened",
    "opened_by_machine",
    "clicked",
    "unsubscribed",
)


def _has_event(kind: str, *, person: bool) -> ColumnElement[bool]:
    machine = tracking_events.c.machine
    return exists().where(
        tracking_events.c.campaign_id == deliveries.c.campaign_id,
        tracking_events.c.delivery_id == deliveries.c.id,
        tracking_events.c.kind == kind,
        machine.is_(None) if person else machine.is_not(None),
    )


async def export_page(
    connection: AsyncConnection, campaign_id: int, *, after_id: int, limit: int
) -> list[tuple[object, ...]]:
    """The next ``limit`` recipients after delivery ``after_id`` (keyset pages): the
    delivery id, then ``EXPORT_COLUMNS``; each answered by the database, times as text."""
    dialect = connection.dialect.name
    unsubscribed = exists().where(
        suppressions.c.organization_id == campaigns.c.organization_id,
        suppressions.c.email == deliveries.c.email,
        suppressions.c.reason == "unsubscribed",
    )
    statement = (
        select(
            deliveries.c.id,
            deliveries.c.email,
            deliveries.c.status,
            deliveries.c.code,
            deliveries.c.reason,
            iso_utc_text(dialect, deliveries.c.sent_at),
            _has_event(OPEN, person=True),
            _has_event(OPEN, person=False),
            _has_event(CLICK, person=True),
            unsubscribed,
        )
        .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.id > after_id)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    return [tuple(row) for row in (await connection.execute(statement)).all()]
