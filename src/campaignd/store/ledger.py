"""The cooldown ledger behind the cooldown: atomic reservations and giving them back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.dialect import upsert
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, ledger_entries

GLOBAL_SCOPE = 0


def scope_of(cooldown_scope: str, organization_id: int) -> int:
    """The ledger scope: 0 for the global cooldown, else the organization id."""
    return organization_id if cooldown_scope == "organization" else GLOBAL_SCOPE


async def reserve_queued(
    connection: AsyncConnection,
    *,
    campaign_id: int,
    campaign_name: str,
    scope: int,
    now: datetime,
    cutoff: datetime,
) -> bool:
    """Reserve every queued address of the campaign that is outside its cooldown; whether
    some queued address may be held by another campaign (then the caller looks for them).

    One conditional upsert: an address whose ledger entry is newer than ``cutoff`` keeps
    that entry (someone else has it); any other is taken by this campaign. Rows are taken
    in address order so that concurrent fan-outs lock them in the same order.

    On PostgreSQL the upsert and a count of the queued addresses are one statement, so
    both see the same rows: when the upsert took as many as there are, nobody holds any.
    SQLite cannot put an upsert in a ``WITH``; there the answer is always "may".
    """
    source = (
        select(
            literal(scope, cooldown_ledger.c.scope.type).label("scope"),
            deliveries.c.email,
            literal(campaign_id, cooldown_ledger.c.campaign_id.type).label("campaign_id"),
            literal(campaign_name, cooldown_ledger.c.campaign_name.type).label("campaign_name"),
            literal(now, cooldown_ledger.c.contacted_at.type).label("contacted_at"),
        )
        .where(_queued(campaign_id))
        .order_by(deliveries.c.email)
    )
    statement = upsert(connection.dialect.name, cooldown_ledger).from_select(
        ["scope", "email", "campaign_id", "campaign_name", "contacted_at"], source
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "email"],
        set_={
            "campaign_id": excluded.campaign_id,
            "campaign_name": excluded.campaign_name,
            "contacted_at": excluded.contacted_at,
            "previous_campaign_id": cooldown_ledger.c.campaign_id,
            "previous_campaign_name": cooldown_ledger.c.campaign_name,
            "previous_contacted_at": cooldown_ledger.c.contacted_at,
        },
        where=cooldown_ledger.c.contacted_at < cutoff,
    )
    if connection.dialect.name != "postgresql":
        await connection.execute(statement)
        return True
    taken = statement.returning(literal(1).label("taken")).cte("taken")
    queued = select(func.count()).select_from(deliveries).where(_queued(campaign_id))
    counts = select(
        select(func.count()).select_from(taken).scalar_subquery().label("taken"),
        queued.scalar_subquery().label("queued"),
    )
    row = (await connection.execute(counts)).one()
    return int(row.taken) < int(row.queued)


def _queued(campaign_id: int) -> ColumnElement[bool]:
    return and_(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == DeliveryStatus.QUEUED.value,
    )


async def give_back_reservations(
    connection: AsyncConnection,
    *,
    campaign_id: int,
    scope: int,
    emails: Select[tuple[str]] | list[str],
) -> None:
    """Restore the ledger entries this campaign took for ``emails`` (failed or cancelled):
    its entries in ``ledger_entries`` go, and ``cooldown_ledger`` gets back what it held."""
    await restore_taken(
        connection,
        entries=and_(
            ledger_entries.c.scope == scope,
            ledger_entries.c.campaign_id == campaign_id,
            ledger_entries.c.email.in_(emails),
        ),
        reserved=and_(
            cooldown_ledger.c.scope == scope,
            cooldown_ledger.c.campaign_id == campaign_id,
            cooldown_ledger.c.email.in_(emails),
        ),
    )


async def restore_taken(
    connection: AsyncConnection, *, entries: ColumnElement[bool], reserved: ColumnElement[bool]
) -> None:
    """Undo reservations: the ``ledger_entries`` rows ``entries`` selects go; the
    ``cooldown_ledger`` rows ``reserved`` selects get back the message they replaced (kept
    in ``previous_*``), or go when they replaced none."""
    await connection.execute(delete(ledger_entries).where(entries))
    await connection.execute(
        delete(cooldown_ledger).where(reserved, cooldown_ledger.c.previous_contacted_at.is_(None))
    )
    await connection.execute(
        update(cooldown_ledger)
        .where(reserved)
        .values(
            campaign_id=cooldown_ledger.c.previous_campaign_id,
            campaign_name=cooldown_ledger.c.previous_campaign_name,
            contacted_at=cooldown_ledger.c.previous_contacted_at,
            previous_campaign_id=None,
            previous_campaign_name=None,
            previous_contacted_at=None,
        )
    )


async def give_back_in_any_scope(
    connection: AsyncConnection, *, campaign_id: int, emails: Select[tuple[str]] | list[str]
) -> None:
    """``give_back_reservations`` for a caller that does not know the cooldown scope.

    A campaign reserves in one scope, the global one or its organization's; the entries of
    the other scope are not this campaign's, so giving back in both touches only its own.
    """
    organization_id = (
        await connection.execute(
            select(campaigns.c.organization_id).where(campaigns.c.id == campaign_id)
        )
    ).scalar_one_or_none()
    scopes = {GLOBAL_SCOPE} if organization_id is None else {GLOBAL_SCOPE, int(organization_id)}
    for scope in sorted(scopes):
        await give_back_reservations(
            connection, campaign_id=campaign_id, scope=scope, emails=emails
        )
