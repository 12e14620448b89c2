"""The recipient whose variables a test send or a message preview uses: one of the
campaign's deliveries or, before it fans out, one of the contacts of its lists and
segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.campaign_audience import campaign_audience, newcomers
from campaignd.store.rows import Row
from campaignd.store.schema import contacts, deliveries


@dataclass(frozen=True)
class SampleRecipient:
    email: str
    variables: dict[str, Any] | None


async def sample_recipient(
    connection: AsyncConnection,
    campaign: Row,
    email: str | None,
    *,
    now: datetime,
    within: int | None = None,
) -> SampleRecipient | None:
    """The campaign's recipient ``email`` (normalised), or its first recipient when
    ``email`` is None; until the campaign fans out, a contact of its lists and segments
    (the first by address) when none of its recipients is, its attributes as variables.
    None when there is no such recipient.

    ``within``: look for that contact among the organization's first ``within`` contacts
    by address only (None when it is not among them). SQLite walks the contacts in address
    order asking each whether it belongs to the audience, so a small list among a million
    contacts costs a walk of the million (0.77 s here); a page that shows many campaigns
    bounds it."""
    campaign_id = int(campaign["id"])
    statement = select(deliveries.c.email, deliveries.c.variables).where(
        deliveries.c.campaign_id == campaign_id
    )
    if email is not None:
        statement = statement.where(deliveries.c.email == email)
    row = (await connection.execute(statement.order_by(deliveries.c.id).limit(1))).first()
    if row is None and campaign["fanned_out_at"] is None:
        audience = await campaign_audience(
            connection, campaign_id, int(campaign["organization_id"]), now=now
        )
        if audience is not None:
            contact = newcomers(campaign_id, audience, contacts.c.email, contacts.c.attributes)
            if email is not None:
                contact = contact.where(contacts.c.email == email)
            if within is not None:
                bound = await _address_at(connection, int(campaign["organization_id"]), within)
                if bound is not None:
                    contact = contact.where(contacts.c.email <= bound)
            row = (await connection.execute(contact.order_by(contacts.c.email).limit(1))).first()
    if row is None:
        return None
    return SampleRecipient(email=str(row[0]), variables=row[1])


async def _address_at(
    connection: AsyncConnection, organization_id: int, position: int
) -> str | None:
    """The organization's ``position``-th contact address in address order (None when it
    has fewer contacts): a walk of ``position`` entries of the key (organization, address)."""
    statement = (
        select(contacts.c.email)
        .where(contacts.c.organization_id == organization_id)
        .order_by(contacts.c.email)
        .offset(position - 1)
        .limit(1)
    )
    value = await connection.scalar(statement)
    return None if value is None else str(value)
