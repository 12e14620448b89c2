"""Deferred deliveries (``domain.deferral``): their reasons at fan-out, the deadline, and
how a campaign waiting for them is shown.

At fan-out ``store.frequency`` defers the recipients a rule caps (``due_at`` the instant a
slot frees, code ``deferred``) and ``store.due_times.plan_deferred`` moves them into their
wave and send window; then ``settle_deferrals`` skips those due after the deadline and
words the others' reasons, and the reservation takes the rest with each deferred entry
counted from its due instant. Later, ``skip_expired`` skips a deferred delivery still
queued at the deadline, and the claim (``store.queue``) never takes one at or after it.
Everything is one statement per step (per campaign for the deadline sweep).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.deferral import (
    COULD_GO_OUT_AT,
    DEFER,
    DEFERRED,
    DEFERRED_UNTIL,
    after_deadline,
    expired_reason,
)
from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus, SkipCode
from campaignd.store.columns import UtcDateTime
from campaignd.store.dialect import iso_utc_text
from campaignd.store.ledger import give_back_in_any_scope
from campaignd.store.schema import campaigns, deliveries
from campaignd.store.waiting import QUEUED

STARTED = (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value)


def _deferred_of(campaign_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == QUEUED,
        deliveries.c.code == DEFERRED,
    )


async def settle_deferrals(
    connection: AsyncConnection, campaign_id: int, *, deadline: datetime
) -> None:
    """At fan-out, once the deferred instants are planned: a deferred delivery due after
    the deadline is skipped (``cooldown``, its cause and when it could have gone out), the
    others' reasons say until when they wait. Two statements."""
    due = iso_utc_text(connection.dialect.name, deliveries.c.due_at)
    await connection.execute(
        update(deliveries)
        .where(*_deferred_of(campaign_id), deliveries.c.due_at > deadline)
        .values(
            status=DeliveryStatus.SKIPPED.value,
            code=SkipCode.COOLDOWN.value,
            reason=deliveries.c.reason
            + literal(COULD_GO_OUT_AT)
            + due
            + literal(after_deadline(deadline)),
        )
    )
    await connection.execute(
        update(deliveries)
        .where(*_deferred_of(campaign_id))
        .values(reason=literal(DEFERRED_UNTIL) + due + literal(": ") + deliveries.c.reason)
    )


def before_deadline(campaign_id: int, now: datetime) -> ColumnElement[bool]:
    """For the claim: a delivery that was not deferred, or whose campaign's deadline has
    not come (an uncorrelated ``EXISTS``: evaluated once per claim)."""
    passed = exists().where(campaigns.c.id == campaign_id, campaigns.c.defer_until <= now)
    return or_(deliveries.c.code.is_(None), deliveries.c.code != DEFERRED, ~passed)


def _past_deadline(now: datetime) -> Select[Any]:
    """The started deferring campaigns whose deadline has passed (a handful at most)."""
    return select(campaigns.c.id, campaigns.c.defer_until).where(
        campaigns.c.status.in_(STARTED),
        campaigns.c.fanned_out_at.is_not(None),
        campaigns.c.capped_recipients == DEFER,
        campaigns.c.defer_until <= now,
    )


async def _expired(connection: AsyncConnection, now: datetime) -> list[tuple[int, datetime]]:
    """The started deferring campaigns past their deadline that still hold a deferred
    delivery: the campaigns first, then one probe of each one's queued deliveries, as two
    statements. The scheduler asks every tick; read from the deliveries' side, the question
    scanned every delivery of every campaign (2 s a tick beside a 10 M campaign), and one
    statement with both let a prepared statement's generic plan start from the deliveries
    again (240 ms a tick on average, up to 640 ms, beside a 10 M campaign)."""
    expired = []
    for campaign_id, deadline in (await connection.execute(_past_deadline(now))).all():
        probe = select(deliveries.c.id).where(*_deferred_of(int(campaign_id))).limit(1)
        if (await connection.execute(probe)).first() is not None:
            expired.append((int(campaign_id), deadline))
    return expired


async def any_expired(connection: AsyncConnection, *, now: datetime) -> bool:
    """Whether ``skip_expired`` has something to do (a read, before a writer transaction)."""
    return bool(await _expired(connection, now))


async def skip_expired(connection: AsyncConnection, *, now: datetime) -> int:
    """Deferred deliveries still queued when their campaign's deadline passes (it was paused
    past it, or a send window moved them beyond it) are skipped, never sent late, and give
    their reservations back. Started campaigns (paused ones too: a resume finds them
    skipped); the campaigns found as ``_expired`` finds them, then two statements per
    campaign. Returns how many deliveries were skipped."""
    skipped = 0
    for campaign_id, deadline in await _expired(connection, now):
        emails = select(deliveries.c.email).where(*_deferred_of(campaign_id))
        await give_back_in_any_scope(connection, campaign_id=campaign_id, emails=emails)
        result = await connection.execute(
            update(deliveries)
            .where(*_deferred_of(campaign_id))
            .values(
                status=DeliveryStatus.SKIPPED.value,
                code=SkipCode.COOLDOWN.value,
                reason=expired_reason(deadline),
            )
        )
        skipped += result.rowcount
    return skipped


@dataclass(frozen=True)
class Deferred:
    """A campaign's deferred deliveries still waiting: how many, the next and the last."""

    count: int
    next_at: datetime
    last_at: datetime


async def deferred_waiting(
    connection: AsyncConnection, campaign_id: int, *, now: datetime
) -> Deferred | None:
    """The campaign's queued deferred deliveries not due yet (None: none), one statement."""
    statement = select(
        func.count(),
        type_coerce(func.min(deliveries.c.due_at), UtcDateTime()),
        type_coerce(func.max(deliveries.c.due_at), UtcDateTime()),
    ).where(*_deferred_of(campaign_id), deliveries.c.due_at > now)
    count, next_at, last_at = (await connection.execute(statement)).one()
    if not count:
        return None
    return Deferred(int(count), next_at, last_at)
