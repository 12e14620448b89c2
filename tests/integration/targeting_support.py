"""Helpers of the targeting tests: an organization's contacts, lists and segments as rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select

from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import (
    campaign_segments,
    contacts,
    deliveries,
    list_members,
    lists,
    segments,
)

Contact = str | tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]
"""An address; or (address, attributes); or (address, attributes, contact status)."""


async def add_contacts(
    database: Database, organization_id: int, people: list[Contact]
) -> dict[str, int]:
    """Contacts of the organization (subscribed, no attributes unless given): address -> id."""
    now = utcnow()
    rows = []
    for person in people:
        email, attributes, status = (
            (person, {}, "subscribed")
            if isinstance(person, str)
            else (person[0], person[1], person[2] if len(person) > 2 else "subscribed")
        )
        rows.append(
            {
                "organization_id": organization_id,
                "email": email,
                "attributes": attributes,
                "status": status,
                "source": "test",
                "created_at": now,
                "updated_at": now,
            }
        )
    async with database.transaction() as connection:
        await connection.execute(insert(contacts), rows)
        found = await connection.execute(
            select(contacts.c.email, contacts.c.id).where(
                contacts.c.organization_id == organization_id
            )
        )
        return {str(email): int(contact_id) for email, contact_id in found.all()}


async def add_list(
    database: Database,
    organization_id: int,
    name: str,
    members: Mapping[str, str] | None = None,
) -> int:
    """A private list with ``members`` (address -> membership status) among the
    organization's contacts."""
    now = utcnow()
    async with database.transaction() as connection:
        list_id = int(
            (
                await connection.execute(
                    insert(lists)
                    .values(
                        organization_id=organization_id,
                        name=name,
                        visibility="private",
                        opt_in="single",
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(lists.c.id)
                )
            ).scalar_one()
        )
    if members:
        await add_members(database, organization_id, list_id, members)
    return list_id


async def add_members(
    database: Database, organization_id: int, list_id: int, members: Mapping[str, str]
) -> None:
    now = utcnow()
    async with database.transaction() as connection:
        ids = dict(
            (
                await connection.execute(
                    select(contacts.c.email, contacts.c.id).where(
                        contacts.c.organization_id == organization_id,
                        contacts.c.email.in_(list(members)),
                    )
                )
            ).all()
        )
        await connection.execute(
            insert(list_members),
            [
                {
                    "list_id": list_id,
                    "contact_id": ids[email],
                    "status": status,
                    "created_at": now,
                    "updated_at": now,
                }
                for email, status in members.items()
            ],
        )


async def add_segment(
    database: Database,
    organization_id: int,
    name: str,
    *,
    campaign_id: int | None = None,
    filter: dict[str, Any] | None = None,
) -> int:
    """A segment row with ``filter`` (default: contacts without a ``never`` attribute);
    targeted by ``campaign_id`` if given."""
    now = utcnow()
    async with database.transaction() as connection:
        segment_id = int(
            (
                await connection.execute(
                    insert(segments)
                    .values(
                        organization_id=organization_id,
                        name=name,
                        filter=filter or {"attribute": "never", "op": "missing"},
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(segments.c.id)
                )
            ).scalar_one()
        )
        if campaign_id is not None:
            await connection.execute(
                insert(campaign_segments).values(campaign_id=campaign_id, segment_id=segment_id)
            )
    return segment_id


async def delivery_count(database: Database, campaign_id: int | None = None) -> int:
    """Deliveries of one campaign (of all when None)."""
    statement = select(func.count()).select_from(deliveries)
    if campaign_id is not None:
        statement = statement.where(deliveries.c.campaign_id == campaign_id)
    async with database.connection() as connection:
        return int((await connection.execute(statement)).scalar_one())
