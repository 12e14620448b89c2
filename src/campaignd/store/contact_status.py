"""A contact's status and its organization's suppression list always say the same thing.

``subscribed`` means no suppression; each other status goes with one suppression reason
(``domain.audience.SUPPRESSION_OF_STATUS``: ``blocklisted`` is ``manual``). The two
directions live here, and every statement that writes either side goes through them in its
own transaction: ``store.suppressions`` (the API, the CLI, the admin pages, the
unsubscribe link, bounces recorded by the delivery workers) makes contacts follow the
list; ``store.contacts`` makes the list follow a status set on a contact, and gives a new
contact the status of its address's suppression.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import STATUS_OF_SUPPRESSION, SUPPRESSION_OF_STATUS, ContactStatus
from campaignd.store.columns import UtcDateTime
from campaignd.store.dialect import upsert
from campaignd.store.schema import contacts, suppressions

ADDRESSES_PER_STATEMENT = 10_000
SUBSCRIBED = ContactStatus.SUBSCRIBED.value

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(dialect: str, values: Sequence[str]) -> Select[tuple[Any]]:
    """``values`` as a subquery fed by one parameter (an array on PostgreSQL, a JSON array
    on SQLite), for ``column.in_(...)``: thousands of addresses cost one parameter, not one
    each."""
    if dialect == "postgresql":
        return select(func.unnest(bindparam(None, list(values), type_=ARRAY(Text))))
    each = func.json_each(bindparam(None, json.dumps(list(values)), type_=Text))
    return select(each.table_valued("value").c.value)


def status_of_reason(
    reason: ColumnElement[Any], *, otherwise: str = ContactStatus.BLOCKLISTED.value
) -> ColumnElement[str]:
    """The contact status that goes with a suppression reason, in SQL (``otherwise`` when
    there is none, as from an outer join)."""
    pairs = STATUS_OF_SUPPRESSION.items()
    return case(
        *((reason == name, literal(status.value)) for name, status in pairs),
        else_=literal(otherwise),
    )


def reason_of_status(status: ColumnElement[str]) -> ColumnElement[str]:
    """The suppression reason that goes with a (not subscribed) contact status, in SQL."""
    pairs = SUPPRESSION_OF_STATUS.items()
    return case(
        *((status == state.value, literal(name)) for state, name in pairs),
        else_=literal("manual"),
    )


async def contacts_follow_suppressions(
    connection: AsyncConnection, *, organization_id: int, emails: Sequence[str], now: datetime
) -> None:
    """The organization's contacts among ``emails`` take the status of their suppression,
    and those without one become ``subscribed`` again. Addresses without a contact are
    left alone (nothing is created)."""
    dialect = connection.dialect.name
    suppressed_status = status_of_reason(suppressions.c.reason)
    suppressed = exists().where(
        suppressions.c.organization_id == organization_id,
        suppressions.c.email == contacts.c.email,
    )
    for part in chunked(list(dict.fromkeys(emails)), ADDRESSES_PER_STATEMENT):
        await connection.execute(
            update(contacts)
            .where(
                contacts.c.organization_id == organization_id,
                contacts.c.email.in_(one_of(dialect, part)),
                suppressions.c.organization_id == organization_id,
                suppressions.c.email == contacts.c.email,
                contacts.c.status != suppressed_status,
            )
            .values(status=suppressed_status, updated_at=now)
        )
        await connection.execute(
            update(contacts)
            .where(
                contacts.c.organization_id == organization_id,
                contacts.c.email.in_(one_of(dialect, part)),
                contacts.c.status != SUBSCRIBED,
                ~suppressed,
            )
            .values(status=SUBSCRIBED, updated_at=now)
        )


async def contacts_follow_suppressions_of(
    connection: AsyncConnection, addresses: Sequence[tuple[int, str]], *, now: datetime
) -> None:
    """``contacts_follow_suppressions`` for (organization id, address) pairs of several
    organizations (a group of delivery outcomes)."""
    by_organization: dict[int, list[str]] = {}
    for organization_id, email in addresses:
        by_organization.setdefault(organization_id, []).append(email)
    for organization_id, emails in sorted(by_organization.items()):
        await contacts_follow_suppressions(
            connection, organization_id=organization_id, emails=emails, now=now
        )


async def suppressions_follow_contacts(
    connection: AsyncConnection,
    *,
    organization_id: int,
    emails: Sequence[str],
    now: datetime,
    detail: str | None = None,
) -> None:
    """The suppression list takes the status of the organization's contacts among
    ``emails``: a contact that is not subscribed gets the suppression of its status (an
    existing one takes that reason), a subscribed one loses its suppression."""
    dialect = connection.dialect.name
    for part in chunked(list(dict.fromkeys(emails)), ADDRESSES_PER_STATEMENT):
        not_subscribed = (
            select(
                contacts.c.organization_id,
                contacts.c.email,
                reason_of_status(contacts.c.status),
                literal(detail, suppressions.c.detail.type),
                literal(now, UtcDateTime()),
            )
            .where(
                contacts.c.organization_id == organization_id,
                contacts.c.email.in_(one_of(dialect, part)),
                contacts.c.status != SUBSCRIBED,
            )
            .order_by(contacts.c.email)
        )
        statement = upsert(dialect, suppressions).from_select(
            ["organization_id", "email", "reason", "detail", "created_at"], not_subscribed
        )
        statement = statement.on_conflict_do_update(
            index_elements=["organization_id", "email"],
            set_={"reason": statement.excluded.reason},
            where=suppressions.c.reason != statement.excluded.reason,
        )
        await connection.execute(statement)
        subscribed = select(contacts.c.email).where(
            contacts.c.organization_id == organization_id,
            contacts.c.email.in_(one_of(dialect, part)),
            contacts.c.status == SUBSCRIBED,
        )
        await connection.execute(
            delete(suppressions).where(
                and_(
                    suppressions.c.organization_id == organization_id,
                    suppressions.c.email.in_(subscribed),
                )
            )
        )
