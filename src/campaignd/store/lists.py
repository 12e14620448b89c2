"""Statements on lists and their members.

Every list statement is scoped by organization (a list's id is only looked up through its
organization and name); member statements take a list id found that way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import MemberStatus
from campaignd.store.columns import Identifier, UtcDateTime
from campaignd.store.dialect import insert_ignoring_conflicts, upsert
from campaignd.store.list_contacts import of_addresses
from campaignd.store.rows import every, first
from campaignd.store.schema import campaign_lists, campaigns, contacts, list_members, lists

MEMBER_STATUSES = tuple(status.value for status in MemberStatus)
ACTIVE = (MemberStatus.UNCONFIRMED.value, MemberStatus.CONFIRMED.value)
"""Members who have not left the list."""


@dataclass(frozen=True)
class MailingList:
    id: int
    organization_id: int
    name: str
    description: str | None
    visibility: str
    opt_in: str
    created_at: datetime
    updated_at: datetime
    members: dict[str, int]
    """How many members the list has in each member status (every status present)."""


@dataclass(frozen=True)
class Member:
    contact_id: int
    email: str
    status: str
    contact_status: str
    confirmation_sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Membership:
    """One list a contact belongs to, as the preference centre shows it."""

    list_id: int
    name: str
    description: str | None
    status: str


@dataclass(frozen=True)
class MemberChange:
    added: int
    updated: int
    unchanged: int
    kept_unsubscribed: int
    """Members who had left the list: adding them again does not bring them back."""


def _list(row: Mapping[str, Any], counts: Mapping[str, int] | None = None) -> MailingList:
    members = dict.fromkeys(MEMBER_STATUSES, 0)
    members.update(counts or {})
    return MailingList(
        id=int(row["id"]),
        organization_id=int(row["organization_id"]),
        name=str(row["name"]),
        description=row["description"],
        visibility=str(row["visibility"]),
        opt_in=str(row["opt_in"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        members=members,
    )


async def _member_counts(
    connection: AsyncConnection, list_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    if not list_ids:
        return {}
    statement = (
        select(list_members.c.list_id, list_members.c.status, func.count())
        .where(list_members.c.list_id.in_(list(list_ids)))
        .group_by(list_members.c.list_id, list_members.c.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for list_id, status, count in await connection.execute(statement):
        counts.setdefault(int(list_id), {})[str(status)] = int(count)
    return counts


async def _lists(
    connection: AsyncConnection, conditions: Iterable[ColumnElement[bool]], *, counted: bool
) -> list[MailingList]:
    statement = select(lists).where(*conditions).order_by(lists.c.name)
    rows = every(await connection.execute(statement))
    counts = await _member_counts(connection, [int(row["id"]) for row in rows]) if counted else {}
    return [_list(row, counts.get(int(row["id"]))) for row in rows]


async def create_list(
    connection: AsyncConnection,
    *,
    organization_id: int,
    name: str,
    description: str | None,
    visibility: str,
    opt_in: str,
    now: datetime,
) -> MailingList | None:
    """The new list; None when the organization already has a list of that name."""
    statement = (
        insert_ignoring_conflicts(connection.dialect.name, lists, ["organization_id", "name"])
        .values(
            organization_id=organization_id,
            name=name,
            description=description,
            visibility=visibility,
            opt_in=opt_in,
            created_at=now,
            updated_at=now,
        )
        .returning(*lists.c)
    )
    row = first(await connection.execute(statement))
    return None if row is None else _list(row)


async def get_list(
    connection: AsyncConnection, *, organization_id: int, name: str, counted: bool = True
) -> MailingList | None:
    found = await _lists(
        connection,
        [lists.c.organization_id == organization_id, lists.c.name == name],
        counted=counted,
    )
    return found[0] if found else None


async def lists_named(
    connection: AsyncConnection, *, organization_id: int, names: Sequence[str]
) -> list[MailingList]:
    """The organization's lists among ``names`` (without member counts), in name order."""
    if not names:
        return []
    return await _lists(
        connection,
        [lists.c.organization_id == organization_id, lists.c.name.in_(list(names))],
        counted=False,
    )


async def all_lists(
    connection: AsyncConnection,
    *,
    organization_id: int,
    visibility: str | None = None,
    counted: bool = True,
) -> list[MailingList]:
    """The organization's lists in name order, with member counts unless ``counted`` is off."""
    conditions = [lists.c.organization_id == organization_id]
    if visibility is not None:
        conditions.append(lists.c.visibility == visibility)
    return await _lists(connection, conditions, counted=counted)


async def update_list(
    connection: AsyncConnection, *, list_id: int, changes: Mapping[str, Any], now: datetime
) -> None:
    """Change the given columns (name, description, visibility, opt_in)."""
    statement = update(lists).where(lists.c.id == list_id).values(**changes, updated_at=now)
    await connection.execute(statement)


async def delete_list(connection: AsyncConnection, *, list_id: int) -> None:
    """The list and its memberships (the contacts stay)."""
    await connection.execute(delete(list_members).where(list_members.c.list_id == list_id))
    await connection.execute(delete(lists).where(lists.c.id == list_id))


async def campaigns_targeting(
    connection: AsyncConnection, *, list_id: int, statuses: Iterable[str]
) -> list[tuple[int, str, str]]:
    """(id, name, status) of the campaigns in ``statuses`` that target the list, by id."""
    statement = (
        select(campaigns.c.id, campaigns.c.name, campaigns.c.status)
        .select_from(campaign_lists.join(campaigns))
        .where(campaign_lists.c.list_id == list_id, campaigns.c.status.in_(list(statuses)))
        .order_by(campaigns.c.id)
    )
    return [
        (int(id_), str(name), str(status))
        for id_, name, status in await connection.execute(statement)
    ]


# -- members ----------------------------------------------------------------------------------


async def add_members(
    connection: AsyncConnection,
    *,
    organization_id: int,
    list_id: int,
    emails: Sequence[str],
    status: str,
    now: datetime,
) -> MemberChange:
    """Make the contacts of ``emails`` (normalised, each a contact already) members of the
    list in ``status``: three statements, whatever the number of addresses.

    A member in another status is moved to ``status``, except one who left the list
    (``unsubscribed``): that stays as it is (``kept_unsubscribed``).
    """
    if not emails:
        return MemberChange(added=0, updated=0, unchanged=0, kept_unsubscribed=0)
    dialect = connection.dialect.name
    before = select(list_members.c.status, func.count()).where(
        list_members.c.list_id == list_id,
        list_members.c.contact_id.in_(of_addresses(dialect, organization_id, emails)),
    )
    existing = {
        str(state): int(count)
        for state, count in await connection.execute(before.group_by(list_members.c.status))
    }
    kept = (
        existing.get(MemberStatus.UNSUBSCRIBED.value, 0)
        if status != MemberStatus.UNSUBSCRIBED.value
        else 0
    )
    moved = await connection.execute(
        update(list_members)
        .where(
            list_members.c.list_id == list_id,
            list_members.c.contact_id.in_(of_addresses(dialect, organization_id, emails)),
            list_members.c.status.not_in([status, MemberStatus.UNSUBSCRIBED.value]),
        )
        .values(status=status, updated_at=now)
    )
    new = select(
        literal(list_id, Identifier),
        contacts.c.id,
        literal(status, String),
        literal(now, UtcDateTime),
        literal(now, UtcDateTime),
    ).where(contacts.c.id.in_(of_addresses(dialect, organization_id, emails)))
    added = await connection.execute(
        upsert(dialect, list_members)
        .from_select(["list_id", "contact_id", "status", "created_at", "updated_at"], new)
        .on_conflict_do_nothing(index_elements=["list_id", "contact_id"])
        .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is not kept otherwise
    )
    updated = max(0, moved.rowcount)
    return MemberChange(
        added=max(0, added.rowcount),
        updated=updated,
        unchanged=sum(existing.values()) - updated - kept,
        kept_unsubscribed=kept,
    )


async def remove_members(
    connection: AsyncConnection, *, list_id: int, organization_id: int, emails: Sequence[str]
) -> int:
    """Take the addresses off the list (their contacts stay); how many were members."""
    if not emails:
        return 0
    statement = delete(list_members).where(
        list_members.c.list_id == list_id,
        list_members.c.contact_id.in_(
            of_addresses(connection.dialect.name, organization_id, emails)
        ),
    )
    return max(0, (await connection.execute(statement)).rowcount)


async def members_page(
    connection: AsyncConnection,
    *,
    list_id: int,
    status: str | None = None,
    after_email: str | None = None,
    limit: int = 100,
) -> list[Member]:
    """Members in address order; ``after_email`` is the cursor (the previous page's last)."""
    conditions = [list_members.c.list_id == list_id]
    if status is not None:
        conditions.append(list_members.c.status == status)
    if after_email is not None:
        conditions.append(contacts.c.email > after_email)
    statement = (
        select(
            list_members.c.contact_id,
            contacts.c.email,
            list_members.c.status,
            contacts.c.status.label("contact_status"),
            list_members.c.confirmation_sent_at,
            list_members.c.created_at,
            list_members.c.updated_at,
        )
        .select_from(list_members.join(contacts))
        .where(*conditions)
        .order_by(contacts.c.email)
        .limit(limit)
    )
    return [
        Member(
            contact_id=int(row["contact_id"]),
            email=str(row["email"]),
            status=str(row["status"]),
            contact_status=str(row["contact_status"]),
            confirmation_sent_at=row["confirmation_sent_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in (await connection.execute(statement)).mappings()
    ]


async def memberships(
    connection: AsyncConnection,
    *,
    organization_id: int,
    email: str,
    statuses: Sequence[str] = ACTIVE,
) -> list[Membership]:
    """The organization's lists the address belongs to in one of ``statuses``, by name."""
    statement = (
        select(lists.c.id, lists.c.name, lists.c.description, list_members.c.status)
        .select_from(list_members.join(lists).join(contacts))
        .where(
            contacts.c.organization_id == organization_id,
            contacts.c.email == email,
            lists.c.organization_id == organization_id,
            list_members.c.status.in_(list(statuses)),
        )
        .order_by(lists.c.name)
    )
    return [
        Membership(list_id=int(id_), name=str(name), description=description, status=str(status))
        for id_, name, description, status in await connection.execute(statement)
    ]


async def member_statuses(
    connection: AsyncConnection, *, contact_id: int, list_ids: Sequence[int]
) -> dict[int, str]:
    """List id -> the contact's member status, for the lists of ``list_ids`` it belongs to."""
    if not list_ids:
        return {}
    statement = select(list_members.c.list_id, list_members.c.status).where(
        list_members.c.contact_id == contact_id, list_members.c.list_id.in_(list(list_ids))
    )
    return {int(list_id): str(status) for list_id, status in await connection.execute(statement)}


async def set_member_status(
    connection: AsyncConnection,
    *,
    contact_id: int,
    list_ids: Sequence[int],
    status: str,
    now: datetime,
) -> None:
    """The contact's membership of each of ``list_ids`` in ``status``, created if missing."""
    if not list_ids:
        return
    existing = await member_statuses(connection, contact_id=contact_id, list_ids=list_ids)
    new = [list_id for list_id in list_ids if list_id not in existing]
    if new:
        await connection.execute(
            insert(list_members),
            [
                {
                    "list_id": list_id,
                    "contact_id": contact_id,
                    "status": status,
                    "created_at": now,
                    "updated_at": now,
                }
                for list_id in new
            ],
        )
    changing = [list_id for list_id, state in existing.items() if state != status]
    if changing:
        await connection.execute(
            update(list_members)
            .where(list_members.c.contact_id == contact_id, list_members.c.list_id.in_(changing))
            .values(status=status, updated_at=now)
        )


async def last_confirmation_sent(
    connection: AsyncConnection, *, organization_id: int, contact_id: int
) -> datetime | None:
    """When the contact was last sent a confirmation message for any list of the
    organization (None: never)."""
    statement = (
        select(func.max(list_members.c.confirmation_sent_at))
        .select_from(list_members.join(lists))
        .where(list_members.c.contact_id == contact_id, lists.c.organization_id == organization_id)
    )
    value: datetime | None = await connection.scalar(statement)
    return value


async def mark_confirmation_sent(
    connection: AsyncConnection, *, contact_id: int, list_ids: Sequence[int], at: datetime
) -> None:
    """Record the confirmation message sent for ``list_ids`` at ``at``."""
    await connection.execute(
        update(list_members)
        .where(list_members.c.contact_id == contact_id, list_members.c.list_id.in_(list(list_ids)))
        .values(confirmation_sent_at=at)
    )


async def take_back_confirmation(
    connection: AsyncConnection,
    *,
    contact_id: int,
    list_ids: Sequence[int],
    sent_at: datetime,
) -> None:
    """Forget a confirmation message that could not be sent (only where ``sent_at`` is
    still the time recorded for it), so the address may ask again at once."""
    await connection.execute(
        update(list_members)
        .where(
            list_members.c.contact_id == contact_id,
            list_members.c.list_id.in_(list(list_ids)),
            list_members.c.confirmation_sent_at == sent_at,
        )
        .values(confirmation_sent_at=None)
    )


async def confirm_members(
    connection: AsyncConnection,
    *,
    organization_id: int,
    contact_id: int,
    list_ids: Sequence[int],
    now: datetime,
) -> list[str]:
    """Unconfirmed memberships of the contact among ``list_ids`` become confirmed; the
    names of those lists. A member who left a list or was removed stays out."""
    of_organization = select(lists.c.id).where(
        lists.c.organization_id == organization_id, lists.c.id.in_(list(list_ids))
    )
    statement = (
        update(list_members)
        .where(
            list_members.c.contact_id == contact_id,
            list_members.c.list_id.in_(of_organization),
            list_members.c.status == MemberStatus.UNCONFIRMED.value,
        )
        .values(status=MemberStatus.CONFIRMED.value, updated_at=now)
        .returning(list_members.c.list_id)
    )
    confirmed = [int(list_id) for (list_id,) in await connection.execute(statement)]
    return await _names(connection, confirmed)


async def leave(
    connection: AsyncConnection,
    *,
    organization_id: int,
    contact_id: int,
    list_ids: Sequence[int] | None,
    now: datetime,
) -> list[str]:
    """The contact leaves ``list_ids`` (None: every list of the organization): active
    memberships become ``unsubscribed``. The names of the lists it left."""
    of_organization = select(lists.c.id).where(lists.c.organization_id == organization_id)
    if list_ids is not None:
        of_organization = of_organization.where(lists.c.id.in_(list(list_ids)))
    statement = (
        update(list_members)
        .where(
            list_members.c.contact_id == contact_id,
            list_members.c.list_id.in_(of_organization),
            list_members.c.status.in_(ACTIVE),
        )
        .values(status=MemberStatus.UNSUBSCRIBED.value, updated_at=now)
        .returning(list_members.c.list_id)
    )
    left = [int(list_id) for (list_id,) in await connection.execute(statement)]
    return await _names(connection, left)


async def _names(connection: AsyncConnection, list_ids: Sequence[int]) -> list[str]:
    if not list_ids:
        return []
    statement = select(lists.c.name).where(lists.c.id.in_(list(list_ids))).order_by(lists.c.name)
    return [str(name) for (name,) in await connection.execute(statement)]
