"""Adding recipients to a campaign (one bulk statement) and reading their outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.campaigns import fanned_out_among
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.erasure import erased_among, has_erased
from campaignd.store.rows import Row, every
from campaignd.store.schema import campaigns, deliveries
from campaignd.store.waiting import shown_status, stored_status

INSERT_CHUNK = 5_000


async def count_recipients(connection: AsyncConnection, campaign_id: int) -> int:
    statement = select(func.count()).where(deliveries.c.campaign_id == campaign_id)
    return int((await connection.execute(statement)).scalar_one())


@dataclass(frozen=True)
class Added:
    added: int
    erased: int
    """Addresses left out because the organization erased them (never stored again)."""


async def add_recipients(
    connection: AsyncConnection,
    campaign_id: int,
    recipients: Iterable[tuple[str, dict[str, Any] | None]],
) -> int:
    """Insert normalised ``(email, variables)`` pairs as queued deliveries (``store.waiting``).

    Addresses the campaign already holds, and addresses its organization erased, are left
    out. Returns how many were added.
    """
    return (await add_recipients_counted(connection, campaign_id, recipients)).added


async def add_recipients_counted(
    connection: AsyncConnection,
    campaign_id: int,
    recipients: Iterable[tuple[str, dict[str, Any] | None]],
) -> Added:
    """``add_recipients``, also saying how many erased addresses were left out.

    Erased addresses are looked for only when the organization has erased one (one indexed
    look-up per call otherwise).
    """
    organization_id = await connection.scalar(
        select(campaigns.c.organization_id).where(campaigns.c.id == campaign_id)
    )
    check_erased = organization_id is not None and await has_erased(
        connection, int(organization_id)
    )
    copying = connection.dialect.name == "postgresql"
    before = 0 if copying else await count_recipients(connection, campaign_id)
    statement = insert_ignoring_conflicts(
        connection.dialect.name, deliveries, ["campaign_id", "email"]
    )
    erased = 0
    copied = 0

    async def insert(chunk: list[dict[str, Any]]) -> None:
        nonlocal erased, copied
        if check_erased:
            assert organization_id is not None
            left_out = await erased_among(
                connection, int(organization_id), [row["email"] for row in chunk]
            )
            if left_out:
                kept = [row for row in chunk if row["email"] not in left_out]
                erased += len(chunk) - len(kept)
                chunk = kept
        if chunk and copying:
            copied += await _copy_in(connection, campaign_id, chunk)
        elif chunk:
            await connection.execute(statement, chunk)

    chunk: list[dict[str, Any]] = []
    for email, variables in recipients:
        chunk.append(
            {
                "campaign_id": campaign_id,
                "email": email,
                "variables": variables or None,
                "status": DeliveryStatus.QUEUED.value,
                "attempts": 0,
            }
        )
        if len(chunk) >= INSERT_CHUNK:
            await insert(chunk)
            chunk = []
    if chunk:
        await insert(chunk)
    if copying:
        return Added(added=copied, erased=erased)
    return Added(added=await count_recipients(connection, campaign_id) - before, erased=erased)


COPY_TABLE = "incoming_recipients"


async def _copy_in(
    connection: AsyncConnection, campaign_id: int, chunk: list[dict[str, Any]]
) -> int:
    """PostgreSQL: ``COPY`` the chunk into a temporary table, then one ``INSERT ... SELECT``
    that skips addresses the campaign holds; returns how many were added.

    ``executemany`` sends one bound row at a time through the driver (about ten times
    slower); ``COPY`` streams them. The temporary table lives until the transaction ends.
    The rows keep the file's order (not address order, which would make a third of the
    ``INSERT`` of a shuffled file cheaper): the deliveries' ids are the order in which the
    campaign is sent and its first recipient is the one its pages show first.
    """
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor:
        await cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {COPY_TABLE} "
            "(email text NOT NULL, variables json) ON COMMIT DROP"
        )
        async with cursor.copy(f"COPY {COPY_TABLE} (email, variables) FROM STDIN") as copy:
            for row in chunk:
                variables = row["variables"]
                await copy.write_row(
                    (row["email"], None if variables is None else json.dumps(variables))
                )
        await cursor.execute(
            "INSERT INTO deliveries (campaign_id, email, variables, status, attempts) "
            f"SELECT %s, email, variables, %s, 0 FROM {COPY_TABLE} "
            "ON CONFLICT (campaign_id, email) DO NOTHING",
            (campaign_id, DeliveryStatus.QUEUED.value),
        )
        added = int(cursor.rowcount)
        await cursor.execute(f"TRUNCATE {COPY_TABLE}")
    return added


async def list_deliveries(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Row]:
    """A page of a campaign's deliveries, with their status as shown (``store.waiting``)."""
    fanned_out = bool(await fanned_out_among(connection, [campaign_id]))
    conditions = [deliveries.c.campaign_id == campaign_id]
    if status is not None:
        stored = stored_status(status, fanned_out=fanned_out)
        if stored is None:
            return []
        conditions.append(deliveries.c.status == stored)
    if after_id is not None:
        conditions.append(deliveries.c.id > after_id)
    statement = select(deliveries).where(*conditions).order_by(deliveries.c.id).limit(limit)
    rows = every(await connection.execute(statement))
    for row in rows:
        row["status"] = shown_status(str(row["status"]), fanned_out=fanned_out)
    return rows


async def first_recipients(
    connection: AsyncConnection, campaign_ids: list[int]
) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """Per campaign, its first recipient's address and variables (one statement)."""
    if not campaign_ids:
        return {}
    first_ids = (
        select(func.min(deliveries.c.id))
        .where(deliveries.c.campaign_id.in_(campaign_ids))
        .group_by(deliveries.c.campaign_id)
    )
    statement = select(deliveries.c.campaign_id, deliveries.c.email, deliveries.c.variables).where(
        deliveries.c.id.in_(first_ids)
    )
    return {
        int(campaign_id): (str(email), variables)
        for campaign_id, email, variables in (await connection.execute(statement)).all()
    }


async def copy_recipients(connection: AsyncConnection, source_id: int, target_id: int) -> int:
    """The recipients of ``source_id`` (address and variables) added to ``target_id`` as
    queued, whatever became of them in the source; one statement. Returns how many."""
    rows = select(
        literal(target_id, deliveries.c.campaign_id.type),
        deliveries.c.email,
        deliveries.c.variables,
        literal(DeliveryStatus.QUEUED.value, deliveries.c.status.type),
        literal(0, deliveries.c.attempts.type),
    ).where(deliveries.c.campaign_id == source_id)
    statement = insert(deliveries).from_select(
        ["campaign_id", "email", "variables", "status", "attempts"], rows
    )
    return int((await connection.execute(statement)).rowcount)
