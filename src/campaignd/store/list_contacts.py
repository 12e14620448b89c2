"""The few statements on contacts that lists need: find them, create the missing ones, and
keep a contact's status in step when its address unsubscribes or confirms again.

A contact created here starts ``subscribed`` unless its address is already suppressed in
the organization, in which case its status is the one that goes with the suppression.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, case, delete, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import STATUS_OF_SUPPRESSION, ContactStatus
from campaignd.store.columns import Identifier, UtcDateTime
from campaignd.store.dialect import upsert, value_table
from campaignd.store.schema import contacts, suppressions


def of_addresses(dialect: str, organization_id: int, emails: Sequence[str]) -> Select[Any]:
    """``SELECT id`` of the organization's contacts among ``emails``: one statement and one
    bound parameter however many addresses (``dialect.value_table``)."""
    addresses = value_table(dialect, emails, "email")
    return select(contacts.c.id).where(
        contacts.c.organization_id == organization_id,
        contacts.c.email.in_(select(addresses.c.email)),
    )


async def contact_ids(
    connection: AsyncConnection, *, organization_id: int, emails: Sequence[str]
) -> dict[str, int]:
    """Normalised address -> contact id, for those of ``emails`` that are contacts."""
    if not emails:
        return {}
    addresses = value_table(connection.dialect.name, emails, "email")
    statement = select(contacts.c.email, contacts.c.id).where(
        contacts.c.organization_id == organization_id,
        contacts.c.email.in_(select(addresses.c.email)),
    )
    return {str(email): int(id_) for email, id_ in await connection.execute(statement)}


async def ensure_contacts(
    connection: AsyncConnection,
    *,
    organization_id: int,
    emails: Sequence[str],
    source: str,
    now: datetime,
) -> int:
    """Make every one of the normalised ``emails`` a contact of the organization, in one
    ``INSERT ... SELECT``; existing contacts are left as they are. How many were created."""
    if not emails:
        return 0
    addresses = value_table(connection.dialect.name, emails, "email")
    status = case(
        *(
            (suppressions.c.reason == reason, contact_status.value)
            for reason, contact_status in STATUS_OF_SUPPRESSION.items()
        ),
        else_=ContactStatus.SUBSCRIBED.value,
    )
    rows = (
        select(
            literal(organization_id, Identifier),
            addresses.c.email,
            literal({}, contacts.c.attributes.type),
            status,
            literal(source, String),
            literal(now, UtcDateTime),
            literal(now, UtcDateTime),
        )
        .select_from(
            addresses.outerjoin(
                suppressions,
                and_(
                    suppressions.c.organization_id == organization_id,
                    suppressions.c.email == addresses.c.email,
                ),
            )
        )
        .where(true())  # SQLite: an upsert's SELECT needs a WHERE (parsing ambiguity)
    )
    columns = ["organization_id", "email", "attributes", "status", "source"]
    statement = (
        upsert(connection.dialect.name, contacts)
        .from_select([*columns, "created_at", "updated_at"], rows)
        .on_conflict_do_nothing(index_elements=["organization_id", "email"])
        .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is not kept otherwise
    )
    return max(0, (await connection.execute(statement)).rowcount)


async def locked_contact_id(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> int | None:
    """The contact's id, its row locked for the rest of the transaction (PostgreSQL; a
    SQLite writer transaction holds the whole database already)."""
    statement = (
        select(contacts.c.id)
        .where(contacts.c.organization_id == organization_id, contacts.c.email == email)
        .with_for_update()
    )
    found = await connection.scalar(statement)
    return None if found is None else int(found)


async def change_contact_status(
    connection: AsyncConnection,
    *,
    contact_id: int,
    status: ContactStatus,
    from_statuses: Iterable[ContactStatus],
    now: datetime,
) -> bool:
    """Set the contact's status when it is one of ``from_statuses``; True when it changed."""
    statement = (
        update(contacts)
        .where(
            contacts.c.id == contact_id,
            contacts.c.status.in_([item.value for item in from_statuses]),
        )
        .values(status=status.value, updated_at=now)
    )
    return (await connection.execute(statement)).rowcount > 0


async def suppression_reason(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> str | None:
    """Why the address is suppressed in the organization (None: it is not)."""
    statement = select(suppressions.c.reason).where(
        suppressions.c.organization_id == organization_id, suppressions.c.email == email
    )
    found = await connection.scalar(statement)
    return None if found is None else str(found)


async def lift_unsubscribed(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> bool:
    """Take the address off the suppression list if (and only if) it is there because it
    unsubscribed; True when it was."""
    statement = delete(suppressions).where(
        suppressions.c.organization_id == organization_id,
        suppressions.c.email == email,
        suppressions.c.reason == "unsubscribed",
    )
    return (await connection.execute(statement)).rowcount > 0
