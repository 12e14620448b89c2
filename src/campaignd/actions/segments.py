"""Segment actions: create, list, read, edit, delete saved filters; count and sample them.

A segment's audience is the organization's ``subscribed`` contacts its filter matches; its
count is live (one statement at the moment it is asked). A segment is named by its name
within an organization (the API, the CLI and the admin pages), like a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.domain.filters import (
    Filter,
    FilterError,
    campaign_paths,
    describe,
    list_paths,
    parse,
    to_json,
)
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store import audit
from campaignd.store import segments as store
from campaignd.store.columns import utcnow
from campaignd.store.segments import SampleContact, Segment

MAX_NAME = 100
MAX_DESCRIPTION = 2000
SAMPLE_SIZE = 10
PICKED_CAMPAIGNS = 200
"""Campaign names the builder offers for an engagement condition (the most recent)."""

MAY_STILL_SEND = frozenset(
    {
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        CampaignStatus.MISSED,
    }
)
"""A campaign in one of these statuses may still send to its segments: a segment it targets
cannot be deleted."""

SegmentKey = int | str
"""A segment's id, or its name within the organization given beside it."""


@dataclass(frozen=True)
class Count:
    """How many subscribed contacts a filter selects now, and the first few of them."""

    organization: str
    count: int
    sample: list[SampleContact]


def filter_text(document: Any) -> str:
    """A saved filter in words; one saved under rules since tightened says why it no longer
    counts instead of failing the listing it appears in."""
    try:
        return describe(parse(document))
    except FilterError as error:
        return f"(not a valid filter any more: {error})"


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise Invalid("name: must not be empty")
    if len(name) > MAX_NAME:
        raise Invalid(f"name: at most {MAX_NAME} characters")
    if any(ord(character) < 32 or ord(character) == 127 for character in name):
        raise Invalid("name: must not contain control characters")
    if "/" in name:
        raise Invalid("name: must not contain '/' (a segment's name is part of its address)")
    return name


def _description(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_DESCRIPTION:
        raise Invalid(f"description: at most {MAX_DESCRIPTION} characters")
    return value.strip()


async def checked_filter(
    connection: AsyncConnection, organization_id: int, slug: str, document: Any
) -> Filter:
    """The parsed filter, every list and campaign it names one of the organization's (422
    otherwise: the first one missing, by its JSON path)."""
    try:
        node = parse(document)
    except FilterError as error:
        raise Invalid(str(error)) from None
    for kind, paths, missing_of in (
        ("list", dict(list_paths(node)), store.missing_lists),
        ("campaign", dict(campaign_paths(node)), store.missing_campaigns),
    ):
        missing = await missing_of(
            connection,
            organization_id=organization_id,
            names=list(dict.fromkeys(paths.values())),
        )
        if missing:
            path = next(path for path, name in paths.items() if name == missing[0])
            raise Invalid(f"{path}: {slug} has no {kind} named '{missing[0]}'")
    return node


async def _segment_in_scope(
    connection: AsyncConnection,
    principal: Principal,
    key: SegmentKey,
    organization: str | None,
) -> Segment:
    """The segment, if the principal may see it; otherwise 404 (never "forbidden")."""
    if isinstance(key, int):
        found = await store.get_segment(connection, key, organization_id=principal.scope)
        if found is None:
            raise NotFound(f"segment {key} not found")
        return found
    organization_id, slug = await organization_of(connection, principal, organization)
    found = await store.segment_by_name(connection, organization_id=organization_id, name=key)
    if found is None:
        raise NotFound(f"segment '{key}' not found in {slug}")
    return found


def _taken(name: str, slug: str) -> Conflict:
    return Conflict(f"name: {slug} already has a segment named '{name}'")


async def create_segment(
    services: Services,
    principal: Principal,
    *,
    name: str,
    filter: Any,
    description: str | None = None,
    organization: str | None = None,
) -> Segment:
    principal.require_change()
    name, description = _name(name), _description(description)
    now = utcnow()
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        node = await checked_filter(connection, organization_id, slug, filter)
        segment_id = await store.create_segment(
            connection,
            organization_id=organization_id,
            name=name,
            description=description,
            filter=to_json(node),
            now=now,
        )
        if segment_id is None:
            raise _taken(name, slug)
        await audit.record(
            connection,
            actor=principal.actor,
            action="segment.create",
            organization_id=organization_id,
            target=str(segment_id),
            detail={"name": name},
        )
        created = await store.get_segment(connection, segment_id, organization_id=organization_id)
    assert created is not None
    return created


async def list_segments(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[str, list[Segment], str | None]:
    """The organization, a page of its segments (name order) and the next cursor, if any."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        rows = await store.list_segments(
            connection, organization_id=organization_id, after_name=cursor, limit=limit + 1
        )
    page = rows[:limit]
    return slug, page, (page[-1].name if len(rows) > limit else None)


async def get_segment(
    services: Services, principal: Principal, key: SegmentKey, *, organization: str | None = None
) -> Segment:
    async with services.database.connection() as connection:
        return await _segment_in_scope(connection, principal, key, organization)


async def edit_segment(
    services: Services,
    principal: Principal,
    key: SegmentKey,
    changes: dict[str, Any],
    *,
    organization: str | None = None,
) -> Segment:
    """Change ``name``, ``description`` and ``filter`` (the keys given). Campaigns that
    target the segment use the new filter from their next fan-out on."""
    principal.require_change()
    unknown = set(changes) - {"name", "description", "filter"}
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]}: cannot be edited")
    if not changes:
        raise Invalid("nothing to change: give a name, a description or a filter")
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _name(str(changes["name"] or ""))
    if "description" in changes:
        values["description"] = _description(changes["description"])
    async with services.database.transaction() as connection:
        segment = await _segment_in_scope(connection, principal, key, organization)
        if "filter" in changes:
            node = await checked_filter(
                connection, segment.organization_id, segment.organization, changes["filter"]
            )
            values["filter"] = to_json(node)
        if "name" in values and values["name"] != segment.name:
            other = await store.segment_by_name(
                connection, organization_id=segment.organization_id, name=values["name"]
            )
            if other is not None:
                raise _taken(values["name"], segment.organization)
        try:
            updated = await store.update_segment(
                connection, segment.id, changes=values, now=utcnow()
            )
        except IntegrityError:  # the same name taken at the same moment (PostgreSQL)
            raise _taken(values["name"], segment.organization) from None
        if not updated:
            raise NotFound(f"segment {segment.id} not found")
        await audit.record(
            connection,
            actor=principal.actor,
            action="segment.edit",
            organization_id=segment.organization_id,
            target=str(segment.id),
            detail={"name": values.get("name", segment.name), "fields": sorted(values)},
        )
        edited = await store.get_segment(connection, segment.id, organization_id=None)
    assert edited is not None
    return edited


def _targeted(segment: Segment, campaigns: list[store.TargetingCampaign]) -> Conflict:
    named = ", ".join(
        f"{campaign.id} '{campaign.name}' ({campaign.status})" for campaign in campaigns[:10]
    )
    if len(campaigns) > 10:
        named += f" and {len(campaigns) - 10} more"
    word = "campaign" if len(campaigns) == 1 else "campaigns"
    return Conflict(
        f"segment '{segment.name}' is targeted by {word} that may still send: {named}; "
        "take it out of their targets (or cancel them) first"
    )


async def delete_segment(
    services: Services, principal: Principal, key: SegmentKey, *, organization: str | None = None
) -> Segment:
    """Delete it, unless a campaign that may still send targets it (409 naming them)."""
    principal.require_change()
    statuses = {status.value for status in MAY_STILL_SEND}
    async with services.database.transaction() as connection:
        segment = await _segment_in_scope(connection, principal, key, organization)
        if not await store.delete_segment(connection, segment.id, unless_targeted_by=statuses):
            users = await store.campaigns_targeting(connection, segment.id, statuses=statuses)
            if not users:
                raise NotFound(f"segment {segment.id} not found")
            raise _targeted(segment, users)
        await audit.record(
            connection,
            actor=principal.actor,
            action="segment.delete",
            organization_id=segment.organization_id,
            target=str(segment.id),
            detail={"name": segment.name, "filter": segment.filter},
        )
    return segment


async def campaign_names(
    services: Services, principal: Principal, *, organization: str | None = None
) -> list[str]:
    """The organization's campaign names an engagement condition can name, the most recent
    first (at most ``PICKED_CAMPAIGNS``)."""
    async with services.database.connection() as connection:
        organization_id, _ = await organization_of(connection, principal, organization)
        return await store.campaign_names(
            connection, organization_id=organization_id, limit=PICKED_CAMPAIGNS
        )


async def _count(
    connection: AsyncConnection,
    node: Filter,
    *,
    organization_id: int,
    slug: str,
    sample: int,
    now: datetime,
) -> Count:
    condition = store.audience_condition(
        node, dialect=connection.dialect.name, organization_id=organization_id, now=now
    )
    return Count(
        organization=slug,
        count=await store.count_contacts(connection, condition),
        sample=await store.sample_contacts(connection, condition, limit=sample),
    )


async def count_segment(
    services: Services,
    principal: Principal,
    key: SegmentKey,
    *,
    organization: str | None = None,
    sample: int = SAMPLE_SIZE,
) -> tuple[Segment, Count]:
    """The segment, how many subscribed contacts it selects now and the first ``sample``."""
    async with services.database.connection() as connection:
        segment = await _segment_in_scope(connection, principal, key, organization)
        try:
            node = parse(segment.filter)
        except FilterError as error:
            raise Invalid(f"the saved filter is no longer valid: {error}") from None
        count = await _count(
            connection,
            node,
            organization_id=segment.organization_id,
            slug=segment.organization,
            sample=sample,
            now=utcnow(),
        )
    return segment, count


async def count_filter(
    services: Services,
    principal: Principal,
    filter: Any,
    *,
    organization: str | None = None,
    sample: int = SAMPLE_SIZE,
) -> Count:
    """Count an unsaved filter (the admin builder's live count): checked as a save would."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        node = await checked_filter(connection, organization_id, slug, filter)
        return await _count(
            connection,
            node,
            organization_id=organization_id,
            slug=slug,
            sample=sample,
            now=utcnow(),
        )
