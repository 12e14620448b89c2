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
    connection: AsyncConnection, campaign: Row, email: str | None, *, now: datetime
) -> SampleRecipient | None:
    """The campaign's recipient ``email`` (normalised), or its first recipient when
    ``email`` is None; until the campaign fans out, a contact of its lists and segments
    (the first by address) when none of its recipients is, its attributes as variables.
    None when there is no such recipient."""
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
            row = (await connection.execute(contact.order_by(contacts.c.email).limit(1))).first()
    if row is None:
        return None
    return SampleRecipient(email=str(row[0]), variables=row[1])
