"""The few statements on contacts that lists need: find them, create the missing ones, and
keep a contact's status in step when its address unsubscribes or confirms again.

A contact created here starts ``subscribed`` unless its address is already suppressed in
the organization, in which case its status is the one that goes with the suppression.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import STATUS_OF_SUPPRESSION, ContactStatus
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.schema import contacts, suppressions

CHUNK = 5_000
"""Addresses per statement: bound parameters stay well within every driver's limit."""


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def contact_ids(
    connection: AsyncConnection, *, organization_id: int, emails: Sequence[str]
) -> dict[str, int]:
    """Normalised address -> contact id, for those of ``emails`` that are contacts."""
    found: dict[str, int] = {}
    for chunk in chunks(emails):
        statement = select(contacts.c.email, contacts.c.id).where(
            contacts.c.organization_id == organization_id, contacts.c.email.in_(list(chunk))
        )
        found.update({str(email): int(id_) for email, id_ in await connection.execute(statement)})
    return found


async def ensure_contacts(
    connection: AsyncConnection,
    *,
    organization_id: int,
    emails: Sequence[str],
    source: str,
    now: datetime,
) -> tuple[dict[str, int], int]:
    """Every one of the normalised ``emails`` as a contact: (address -> id, how many were
    created). Existing contacts are left as they are."""
    ids = await contact_ids(connection, organization_id=organization_id, emails=emails)
    missing = [email for email in emails if email not in ids]
    for chunk in chunks(missing):
        reasons = await _suppression_reasons(connection, organization_id, chunk)
        rows: list[dict[str, Any]] = [
            {
                "organization_id": organization_id,
                "email": email,
                "attributes": {},
                "status": STATUS_OF_SUPPRESSION.get(
                    reasons.get(email, ""), ContactStatus.SUBSCRIBED
                ).value,
                "source": source,
                "created_at": now,
                "updated_at": now,
            }
            for email in chunk
        ]
        statement = insert_ignoring_conflicts(
            connection.dialect.name, contacts, ["organization_id", "email"]
        )
        await connection.execute(statement, rows)
    if missing:
        ids.update(await contact_ids(connection, organization_id=organization_id, emails=missing))
    return ids, len(missing)


async def _suppression_reasons(
    connection: AsyncConnection, organization_id: int, emails: Sequence[str]
) -> dict[str, str]:
    statement = select(suppressions.c.email, suppressions.c.reason).where(
        suppressions.c.organization_id == organization_id, suppressions.c.email.in_(list(emails))
    )
    return {str(email): str(reason) for email, reason in await connection.execute(statement)}


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
