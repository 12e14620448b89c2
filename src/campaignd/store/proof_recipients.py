"""The recipient whose variables a test send uses: one of the campaign's deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.schema import deliveries


@dataclass(frozen=True)
class ProofRecipient:
    email: str
    variables: dict[str, Any] | None


async def proof_recipient(
    connection: AsyncConnection, campaign_id: int, email: str | None
) -> ProofRecipient | None:
    """The campaign's recipient ``email`` (normalised), or its first recipient when
    ``email`` is None; None when there is no such recipient."""
    statement = select(deliveries.c.email, deliveries.c.variables).where(
        deliveries.c.campaign_id == campaign_id
    )
    if email is not None:
        statement = statement.where(deliveries.c.email == email)
    row = (await connection.execute(statement.order_by(deliveries.c.id).limit(1))).first()
    if row is None:
        return None
    return ProofRecipient(email=str(row.email), variables=row.variables)
