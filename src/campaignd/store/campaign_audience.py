"""A campaign's audience: the contacts of the lists and segments it targets.

It is resolved once, when the campaign fans out: one ``INSERT ... SELECT`` adds every
contact of the audience as a queued delivery beside the explicit recipients (deduplicated:
each contact once, an address the campaign already holds left alone), so the
fan-out's suppression, cooldown and reservation then treat both alike. The preview reads
the same ``SELECT`` without writing.

Who is in the audience: the organization's ``subscribed`` contacts that are not on its
suppression list and that are a ``confirmed`` member of one of the lists or match one of
the segments; each contact once, however many lists and segments hold them. An address
that is also an explicit recipient keeps its recipient row (and variables).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    Subquery,
    cast,
    exists,
    false,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import ContactStatus, MemberStatus
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.campaign_targets import target_ids
from campaignd.store.dialect import insert_ignoring_conflicts, refresh_statistics
from campaignd.store.erasure import lock_against_erasure
from campaignd.store.schema import contacts, deliveries, list_members, suppressions
from campaignd.store.segments import segment_conditions

REPLAN_AFTER = 10_000
"""Deliveries added at once after which the fan-out's next statements are planned with
fresh statistics (``store.dialect.refresh_statistics``)."""


def audience_select(
    organization_id: int,
    list_ids: Sequence[int],
    conditions: Sequence[ColumnElement[bool]] = (),
) -> Select[tuple[int, str, Any]]:
    """The contacts (``id``, ``email``, ``attributes``) of an audience, each once.

    ``list_ids``: lists whose confirmed members belong to it; ``conditions``: more ways in
    (the segments' filters, conditions on ``contacts``), any of which is enough.

    Callers pick other columns of ``contacts`` with ``with_only_columns``, which keeps the
    conditions (and so a ``WHERE``, without which SQLite cannot parse
    ``INSERT ... SELECT ... ON CONFLICT``).
    """
    ways_in = list(conditions)
    if list_ids:
        ways_in.insert(0, _confirmed_member(list_ids))
    suppressed = exists().where(
        suppressions.c.organization_id == organization_id,
        suppressions.c.email == contacts.c.email,
    )
    return select(contacts.c.id, contacts.c.email, contacts.c.attributes).where(
        contacts.c.organization_id == organization_id,
        contacts.c.status == ContactStatus.SUBSCRIBED.value,
        or_(*ways_in) if ways_in else false(),
        ~suppressed,
    )


def _confirmed_member(list_ids: Sequence[int]) -> ColumnElement[bool]:
    """The contact is a confirmed member of one of the lists.

    A correlated ``EXISTS`` on the membership's key (list, contact): PostgreSQL runs it as
    a hash semi-join, SQLite as one probe of the key per contact, and one list is compared
    with ``=`` (an ``IN`` of one value costs SQLite half as much again per probe).
    """
    ids = sorted(set(list_ids))
    in_list = list_members.c.list_id == ids[0] if len(ids) == 1 else list_members.c.list_id.in_(ids)
    return exists().where(
        list_members.c.contact_id == contacts.c.id,
        in_list,
        list_members.c.status == MemberStatus.CONFIRMED.value,
    )


async def campaign_audience(
    connection: AsyncConnection, campaign_id: int, organization_id: int, *, now: datetime
) -> Select[tuple[int, str, Any]] | None:
    """The audience of the campaign's lists and segments as they are ``now``; None when it
    targets neither."""
    targets = await target_ids(connection, campaign_id)
    if not targets:
        return None
    conditions: list[ColumnElement[bool]] = []
    if targets.segment_ids:
        conditions = await segment_conditions(connection, organization_id, targets.segment_ids, now)
    return audience_select(organization_id, targets.list_ids, conditions)


def _variables(attributes: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A contact's attributes as a delivery's variables (``jsonb`` to ``json`` on PostgreSQL;
    on SQLite both are the same JSON text)."""
    return cast(attributes, JSON) if dialect == "postgresql" else attributes


def _held(campaign_id: int) -> ColumnElement[bool]:
    """The campaign already holds the contact's address (as an explicit recipient)."""
    return exists().where(
        deliveries.c.campaign_id == campaign_id, deliveries.c.email == contacts.c.email
    )


async def _holds_recipients(connection: AsyncConnection, campaign_id: int) -> bool:
    statement = select(deliveries.c.id).where(deliveries.c.campaign_id == campaign_id).limit(1)
    return (await connection.execute(statement)).first() is not None


async def add_audience(
    connection: AsyncConnection, campaign_id: int, organization_id: int, *, now: datetime
) -> int:
    """Add the campaign's audience as queued deliveries, in one statement; returns how many
    were added (an address the campaign already holds keeps its row and variables).

    Must run inside the fan-out's transaction, after its claim: nothing else adds
    deliveries to a started campaign. So a campaign with no recipients of its own takes
    its audience with a plain ``INSERT`` (each contact comes once); one with recipients
    leaves their addresses alone by the unique key (``ON CONFLICT DO NOTHING``, which costs
    PostgreSQL a speculative insertion per row, about 15% of the statement).

    Rows go in address order: the campaign's entries of the unique index (campaign,
    address) are then appended at its right edge instead of splitting pages all over it
    (30% off the statement on PostgreSQL, which sorts; SQLite reads the contacts in that
    order anyway, by their key (organization, address)).
    """
    audience = await campaign_audience(connection, campaign_id, organization_id, now=now)
    if audience is None:
        return 0
    await lock_against_erasure(connection, organization_id, exclusive=False)
    dialect = connection.dialect.name
    source = audience.with_only_columns(
        literal(campaign_id, Integer),
        contacts.c.email,
        _variables(contacts.c.attributes, dialect),
        literal(DeliveryStatus.QUEUED.value, String),
        literal(0, Integer),
    ).order_by(contacts.c.email)
    columns = ["campaign_id", "email", "variables", "status", "attempts"]
    into: Insert
    if await _holds_recipients(connection, campaign_id):
        keys = ["campaign_id", "email"]
        into = insert_ignoring_conflicts(dialect, deliveries, keys).from_select(columns, source)
    else:
        into = insert(deliveries).from_select(columns, source)
    result = await connection.execute(into.execution_options(preserve_rowcount=True))
    added = int(result.rowcount)
    if added >= REPLAN_AFTER:
        await refresh_statistics(connection, deliveries)
    return added


def recipients_and_audience(
    campaign_id: int, audience: Select[tuple[int, str, Any]] | None
) -> Subquery:
    """Everyone the campaign would mail, each address once: its recipients (deliveries)
    then the audience's contacts it does not hold yet. Columns ``email``, ``part`` (0 for a
    recipient, 1 for the audience) and ``position`` (within the part)."""
    recipients = select(
        deliveries.c.email.label("email"),
        literal(0, Integer).label("part"),
        deliveries.c.id.label("position"),
    ).where(deliveries.c.campaign_id == campaign_id)
    if audience is None:
        return recipients.subquery("candidates")
    return union_all(
        recipients,
        newcomers(
            campaign_id,
            audience,
            contacts.c.email.label("email"),
            literal(1, Integer).label("part"),
            contacts.c.id.label("position"),
        ),
    ).subquery("candidates")


def newcomers(
    campaign_id: int, audience: Select[tuple[int, str, Any]], *columns: ColumnElement[Any]
) -> Select[Any]:
    """``columns`` of the audience's contacts whose address the campaign does not hold yet
    (as an explicit recipient): those its fan-out would add."""
    return audience.with_only_columns(*columns).where(~_held(campaign_id))
