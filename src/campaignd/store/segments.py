"""Statements on segments (saved filters) and on the contacts a filter selects.

A segment's audience is the organization's ``subscribed`` contacts its filter matches
(``audience_condition``); counting it, however many contacts there are, is one statement.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from campaignd.domain.audience import ContactStatus
from campaignd.domain.filters import Filter, parse, with_list_renamed
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.filter_sql import contact_condition
from campaignd.store.schema import (
    campaign_segments,
    campaigns,
    contacts,
    lists,
    organizations,
    segments,
)


@dataclass(frozen=True)
class Segment:
    id: int
    organization_id: int
    organization: str
    """The organization's slug."""
    name: str
    description: str | None
    filter: dict[str, Any]
    """The filter in its canonical JSON form (``domain.filters.to_json``)."""
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SampleContact:
    email: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class TargetingCampaign:
    """A campaign that targets a segment."""

    id: int
    name: str
    status: str


def _segment(row: RowMapping) -> Segment:
    return Segment(
        id=int(row["id"]),
        organization_id=int(row["organization_id"]),
        organization=str(row["organization"]),
        name=str(row["name"]),
        description=row["description"],
        filter=dict(row["filter"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _segments_with_slug() -> Any:
    return select(*segments.c, organizations.c.slug.label("organization")).join(
        organizations, organizations.c.id == segments.c.organization_id
    )


async def _one(connection: AsyncConnection, *conditions: ColumnElement[bool]) -> Segment | None:
    row = (await connection.execute(_segments_with_slug().where(*conditions))).mappings().first()
    return _segment(row) if row is not None else None


async def get_segment(
    connection: AsyncConnection, segment_id: int, *, organization_id: int | None
) -> Segment | None:
    """The segment, if it is there and (``organization_id`` given) in that organization."""
    conditions = [segments.c.id == segment_id]
    if organization_id is not None:
        conditions.append(segments.c.organization_id == organization_id)
    return await _one(connection, *conditions)


async def segment_by_name(
    connection: AsyncConnection, *, organization_id: int, name: str
) -> Segment | None:
    return await _one(
        connection, segments.c.organization_id == organization_id, segments.c.name == name
    )


async def list_segments(
    connection: AsyncConnection,
    *,
    organization_id: int,
    after_name: str | None = None,
    limit: int = 100,
) -> list[Segment]:
    """In name order; ``after_name`` is the cursor (the last name of the previous page)."""
    statement = _segments_with_slug().where(segments.c.organization_id == organization_id)
    if after_name is not None:
        statement = statement.where(segments.c.name > after_name)
    statement = statement.order_by(segments.c.name).limit(limit)
    return [_segment(row) for row in (await connection.execute(statement)).mappings()]


async def create_segment(
    connection: AsyncConnection,
    *,
    organization_id: int,
    name: str,
    description: str | None,
    filter: Mapping[str, Any],
    now: datetime,
) -> int | None:
    """The new segment's id; None when the organization already has a segment of that name."""
    statement = (
        insert_ignoring_conflicts(connection.dialect.name, segments, ["organization_id", "name"])
        .values(
            organization_id=organization_id,
            name=name,
            description=description,
            filter=dict(filter),
            created_at=now,
            updated_at=now,
        )
        .returning(segments.c.id)
    )
    created = (await connection.execute(statement)).scalar_one_or_none()
    return int(created) if created is not None else None


async def update_segment(
    connection: AsyncConnection, segment_id: int, *, changes: Mapping[str, Any], now: datetime
) -> bool:
    """Change ``name``, ``description`` and ``filter`` (those given); False if it is gone."""
    statement = (
        update(segments)
        .where(segments.c.id == segment_id)
        .values(**dict(changes), updated_at=now)
        .returning(segments.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def follow_list_rename(
    connection: AsyncConnection, *, organization_id: int, old: str, new: str, now: datetime
) -> list[str]:
    """Rewrite the organization's segment filters that name the list ``old`` to name ``new``;
    the names of the segments changed, in name order."""
    statement = (
        select(segments.c.id, segments.c.name, segments.c.filter)
        .where(segments.c.organization_id == organization_id)
        .order_by(segments.c.name)
    )
    changed: list[str] = []
    for segment_id, name, document in (await connection.execute(statement)).all():
        rewritten = with_list_renamed(document, old, new)
        if rewritten != document:
            await connection.execute(
                update(segments)
                .where(segments.c.id == segment_id)
                .values(filter=rewritten, updated_at=now)
            )
            changed.append(str(name))
    return changed


def _targeting(statuses: Collection[str]) -> Any:
    return (
        select(campaigns.c.id, campaigns.c.name, campaigns.c.status)
        .join(campaign_segments, campaign_segments.c.campaign_id == campaigns.c.id)
        .where(campaigns.c.status.in_(list(statuses)))
    )


async def delete_segment(
    connection: AsyncConnection, segment_id: int, *, unless_targeted_by: Collection[str]
) -> bool:
    """Delete it unless a campaign in one of the statuses ``unless_targeted_by`` targets it
    (one conditional statement); False when nothing was deleted."""
    in_use = exists(
        _targeting(unless_targeted_by).where(campaign_segments.c.segment_id == segments.c.id)
    )
    statement = (
        delete(segments).where(segments.c.id == segment_id, ~in_use).returning(segments.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def campaigns_targeting(
    connection: AsyncConnection, segment_id: int, *, statuses: Collection[str]
) -> list[TargetingCampaign]:
    """The campaigns in ``statuses`` that target the segment, oldest first."""
    statement = (
        _targeting(statuses)
        .where(campaign_segments.c.segment_id == segment_id)
        .order_by(campaigns.c.id)
    )
    return [
        TargetingCampaign(id=int(row.id), name=str(row.name), status=str(row.status))
        for row in await connection.execute(statement)
    ]


async def missing_lists(
    connection: AsyncConnection, *, organization_id: int, names: Sequence[str]
) -> list[str]:
    """Which of ``names`` the organization has no list of."""
    if not names:
        return []
    statement = select(lists.c.name).where(
        lists.c.organization_id == organization_id, lists.c.name.in_(list(names))
    )
    found = set((await connection.execute(statement)).scalars())
    return [name for name in names if name not in found]


async def missing_campaigns(
    connection: AsyncConnection, *, organization_id: int, names: Sequence[str]
) -> list[str]:
    """Which of ``names`` the organization has no campaign of."""
    if not names:
        return []
    statement = select(campaigns.c.name).where(
        campaigns.c.organization_id == organization_id, campaigns.c.name.in_(list(names))
    )
    found = set((await connection.execute(statement)).scalars())
    return [name for name in names if name not in found]


async def campaign_names(
    connection: AsyncConnection, *, organization_id: int, limit: int
) -> list[str]:
    """The names of the organization's campaigns, each once, the most recent first (for the
    builder's campaign picker)."""
    newest = func.max(campaigns.c.id)
    statement = (
        select(campaigns.c.name)
        .where(campaigns.c.organization_id == organization_id)
        .group_by(campaigns.c.name)
        .order_by(newest.desc())
        .limit(limit)
    )
    return [str(name) for name in (await connection.execute(statement)).scalars()]


def audience_condition(
    node: Filter, *, dialect: str, organization_id: int, now: datetime
) -> ColumnElement[bool]:
    """The organization's ``subscribed`` contacts that ``node`` matches: a segment's audience."""
    return contact_condition(node, dialect=dialect, organization_id=organization_id, now=now) & (
        contacts.c.status == ContactStatus.SUBSCRIBED.value
    )


async def count_contacts(connection: AsyncConnection, condition: ColumnElement[bool]) -> int:
    statement = select(func.count()).select_from(contacts).where(condition)
    return int((await connection.execute(statement)).scalar_one())


async def sample_contacts(
    connection: AsyncConnection, condition: ColumnElement[bool], *, limit: int
) -> list[SampleContact]:
    """The first ``limit`` contacts in address order."""
    if limit <= 0:
        return []
    statement = (
        select(contacts.c.email, contacts.c.attributes)
        .where(condition)
        .order_by(contacts.c.email)
        .limit(limit)
    )
    return [
        SampleContact(email=str(row.email), attributes=dict(row.attributes or {}))
        for row in await connection.execute(statement)
    ]


async def segment_conditions(
    connection: AsyncConnection,
    organization_id: int,
    segment_ids: Sequence[int],
    now: datetime,
) -> list[ColumnElement[bool]]:
    """The audience of each segment as a condition over ``contacts`` (organization,
    ``subscribed`` and the filter), in the order of ``segment_ids``; ids that are not the
    organization's are left out. ``now`` anchors relative dates (``now-30d``).

    For a campaign's fan-out: ``select(contacts.c.email).where(or_(*conditions))`` is
    everyone any of the segments selects. A stored filter that no longer parses raises
    ``domain.filters.FilterError`` naming the problem.
    """
    if not segment_ids:
        return []
    statement = select(segments.c.id, segments.c.filter).where(
        segments.c.organization_id == organization_id, segments.c.id.in_(list(segment_ids))
    )
    filters = {int(row.id): row.filter for row in await connection.execute(statement)}
    dialect = connection.dialect.name
    return [
        audience_condition(
            parse(filters[segment_id], path=f"segment {segment_id}: filter"),
            dialect=dialect,
            organization_id=organization_id,
            now=now,
        )
        for segment_id in segment_ids
        if segment_id in filters
    ]
