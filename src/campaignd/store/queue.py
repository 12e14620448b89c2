"""The delivery queue: claim batches under a lease, record outcomes, hand leases back.

Fencing: a lease is taken and extended on the database's clock (``store.clock``); it is
extended only for the ids its owner names and still holds (``RETURNING`` says which), and
an outcome, with its side effects, is written only for rows its owner still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.cooldown import suppressed_reason
from campaignd.domain.deferral import DEFER
from campaignd.domain.lifecycle import Action, CampaignStatus, DeliveryStatus, SkipCode
from campaignd.store.campaigns import transition
from campaignd.store.clock import database_now, lease_expiry
from campaignd.store.deferral import before_deadline
from campaignd.store.ledger import give_back_in_any_scope, give_back_reservations
from campaignd.store.rows import Row, every
from campaignd.store.schema import campaigns, deliveries, suppressions
from campaignd.store.suppressions import suppress_outcomes
from campaignd.store.waiting import QUEUED

SENDING = DeliveryStatus.SENDING.value
LAST_ERROR_CHARACTERS = 300


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed delivery."""

    delivery_id: int
    campaign_id: int
    email: str
    status: DeliveryStatus  # sent, queued (retry later) or failed
    reply: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    suppress_as: str | None = None  # "bounced" for a 5xx "no such user"


_TIMED = (
    (campaigns.c.local_time.is_not(None))
    | (campaigns.c.send_window.is_not(None))
    | (campaigns.c.capped_recipients == DEFER)
)
_SENDING_CAMPAIGNS = (
    select(
        campaigns.c.id,
        campaigns.c.organization_id,
        campaigns.c.consecutive_errors,
        campaigns.c.unfinished_from_id,
        _TIMED.label("timed"),
    )
    .where(
        campaigns.c.status == CampaignStatus.SENDING.value,
        campaigns.c.fanned_out_at.is_not(None),
    )
    .order_by(campaigns.c.id)
)


async def sending_campaigns(connection: AsyncConnection) -> list[Row]:
    """Campaigns whose deliveries may be claimed: sending and already fanned out; ``timed``
    those whose deliveries may wait for a due instant (``queue.waiting_campaigns``);
    ``unfinished_from_id`` where their unfinished deliveries start (``store.unfinished``). The
    statement has no parameters: it is built once, when the module is loaded (every
    round of every worker's feeder reads it)."""
    return every(await connection.execute(_SENDING_CAMPAIGNS))


async def waiting_campaigns(
    connection: AsyncConnection, campaign_ids: Sequence[int], *, now: datetime
) -> set[int]:
    """Of ``campaign_ids``, those with queued deliveries none of which is due now (a later
    local-time wave, a closed send window, a deferral): a claim would find nothing, so the
    feeder skips them, and a round stays one claim per campaign with something to send."""
    if not campaign_ids:
        return set()
    queued = (deliveries.c.campaign_id == campaigns.c.id, deliveries.c.status == QUEUED)
    due_now = exists().where(
        *queued,
        (deliveries.c.due_at.is_(None)) | (deliveries.c.due_at <= now),
        (deliveries.c.window_closes_at.is_(None)) | (deliveries.c.window_closes_at > now),
        (deliveries.c.next_attempt_at.is_(None)) | (deliveries.c.next_attempt_at <= now),
    )
    statement = select(campaigns.c.id).where(
        campaigns.c.id.in_(list(campaign_ids)), exists().where(*queued), ~due_now
    )
    return {int(value) for value in (await connection.execute(statement)).scalars()}


async def claim_batch(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    after_id: int = 0,
) -> list[Row]:
    """Take up to ``limit`` queued deliveries of one sending campaign under a lease that
    runs out ``lease_seconds`` from now on the database's clock (``now`` is the worker's
    clock, for retries that are due); with ``after_id``, only deliveries after that id
    (``delivery.claim_cursors``).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets workers claim side by side; SQLite: the
    caller's ``BEGIN IMMEDIATE`` transaction makes the claim exclusive.
    """
    still_sending = (
        select(campaigns.c.id)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == CampaignStatus.SENDING.value,
            campaigns.c.fanned_out_at.is_not(None),
        )
        .exists()
    )
    candidates = (
        select(deliveries.c.id)
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == QUEUED,
            deliveries.c.id > after_id,
            (deliveries.c.next_attempt_at.is_(None)) | (deliveries.c.next_attempt_at <= now),
            # store.due_times: local-time waves, send windows (NULL: due now, no end)
            (deliveries.c.due_at.is_(None)) | (deliveries.c.due_at <= now),
            (deliveries.c.window_closes_at.is_(None)) | (deliveries.c.window_closes_at > now),
            before_deadline(campaign_id, now),  # store.deferral: never after the deadline
            still_sending,
        )
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(candidates.scalar_subquery()))
        .values(
            status=SENDING,
            lease_owner=owner,
            lease_expires_at=lease_expiry(connection, lease_seconds),
            attempts=deliveries.c.attempts + 1,
        )
        .returning(
            deliveries.c.id,
            deliveries.c.campaign_id,
            deliveries.c.email,
            deliveries.c.variables,
            deliveries.c.attempts,
        )
    )
    return sorted(every(await connection.execute(statement)), key=lambda row: int(row["id"]))


async def suppressed_among(
    connection: AsyncConnection, organization_id: int, emails: Sequence[str]
) -> dict[str, str]:
    """Which of ``emails`` are on the organization's suppression list, with the reason."""
    if not emails:
        return {}
    statement = select(suppressions.c.email, suppressions.c.reason).where(
        suppressions.c.organization_id == organization_id, suppressions.c.email.in_(list(emails))
    )
    return {
        str(email): str(reason) for email, reason in (await connection.execute(statement)).all()
    }


async def extend_leases(
    connection: AsyncConnection, delivery_ids: Sequence[int], *, owner: str, lease_seconds: float
) -> set[int]:
    """Extend the leases of ``delivery_ids`` that ``owner`` still holds; returns those ids
    (the others were taken back after the lease ran out, and must not be sent)."""
    if not delivery_ids:
        return set()
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id.in_(list(delivery_ids)),
            deliveries.c.lease_owner == owner,
            deliveries.c.status == SENDING,
        )
        .values(lease_expires_at=lease_expiry(connection, lease_seconds))
        .returning(deliveries.c.id)
    )
    return {int(value) for value in (await connection.execute(statement)).scalars()}


class LeasesLost(Exception):
    """Some outcomes of a group are for rows their owner no longer holds: the transaction
    is rolled back and the group written again with ``record_outcomes(careful=True)``."""


_RECORD_OUTCOME = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("delivery_id"),
        deliveries.c.lease_owner == bindparam("owner"),
        deliveries.c.status == SENDING,
    )
    .values(
        status=bindparam("new_status"),
        server_reply=bindparam("reply"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_attempt_at", type_=deliveries.c.next_attempt_at.type),
        sent_at=bindparam("sent_at", type_=deliveries.c.sent_at.type),
        lease_owner=None,
        lease_expires_at=None,
    )
)
_RESET_ERRORS = (
    update(campaigns)
    .where(
        campaigns.c.id == bindparam("campaign_id"),
        # most groups are all sent: leave a count already right alone (no row lock)
        campaigns.c.consecutive_errors != bindparam("errors"),
    )
    .values(consecutive_errors=bindparam("errors"))
)
_ADD_ERRORS = (
    update(campaigns)
    .where(campaigns.c.id == bindparam("campaign_id"))
    .values(consecutive_errors=campaigns.c.consecutive_errors + bindparam("errors"))
)


async def record_outcomes(
    connection: AsyncConnection,
    outcomes: Sequence[Outcome],
    *,
    owner: str,
    now: datetime,
    scopes: dict[int, int],
    organizations: dict[int, int],
    careful: bool = False,
) -> list[Outcome]:
    """Write a group of outcomes in one transaction (one statement per kind of change);
    returns the outcomes written.

    ``scopes`` maps campaign id to its cooldown ledger scope, ``organizations`` to its
    organization id. Only rows still leased by ``owner`` change, and only their outcomes
    have side effects (a reservation given back, a bounce suppressed, an error counted):
    a stale worker's failure never undoes another worker's send. The first try assumes
    every row is still held and raises ``LeasesLost`` when the row count says otherwise;
    the caller rolls back and tries again with ``careful``, which first locks and reads
    which rows are held. The statements are built once, when the module is loaded.
    """
    if not outcomes:
        return []
    if careful:
        outcomes = await _still_held(connection, outcomes, owner=owner)
        if not outcomes:
            return []
    parameters: list[dict[str, Any]] = [
        {
            "delivery_id": outcome.delivery_id,
            "owner": owner,
            "new_status": outcome.status.value,
            "reply": outcome.reply,
            "error": outcome.error,
            "next_attempt_at": outcome.next_attempt_at,
            "sent_at": now if outcome.status is DeliveryStatus.SENT else None,
        }
        for outcome in outcomes
    ]
    result = await connection.execute(_RECORD_OUTCOME, parameters)
    if result.rowcount != len(parameters):
        raise LeasesLost(f"{len(parameters) - result.rowcount} of {len(parameters)} outcomes")
    await _give_back_failed(connection, outcomes, scopes)
    await _suppress_bounces(connection, outcomes, organizations, now)
    await _count_errors(connection, outcomes)
    return list(outcomes)


async def _still_held(
    connection: AsyncConnection, outcomes: Sequence[Outcome], *, owner: str
) -> list[Outcome]:
    """The outcomes whose rows ``owner`` still holds, locked until the transaction ends."""
    statement = (
        select(deliveries.c.id)
        .where(
            deliveries.c.id.in_([outcome.delivery_id for outcome in outcomes]),
            deliveries.c.lease_owner == owner,
            deliveries.c.status == SENDING,
        )
        .with_for_update()
    )
    held = {int(value) for value in (await connection.execute(statement)).scalars()}
    return [outcome for outcome in outcomes if outcome.delivery_id in held]


async def _give_back_failed(
    connection: AsyncConnection, outcomes: Sequence[Outcome], scopes: dict[int, int]
) -> None:
    failed: dict[int, list[str]] = {}
    for outcome in outcomes:
        if outcome.status is DeliveryStatus.FAILED:
            failed.setdefault(outcome.campaign_id, []).append(outcome.email)
    for campaign_id, emails in failed.items():
        await give_back_reservations(
            connection, campaign_id=campaign_id, scope=scopes[campaign_id], emails=emails
        )


async def _suppress_bounces(
    connection: AsyncConnection,
    outcomes: Sequence[Outcome],
    organizations: dict[int, int],
    now: datetime,
) -> None:
    rows = [
        {
            "organization_id": organizations[outcome.campaign_id],
            "email": outcome.email,
            "reason": outcome.suppress_as,
            "detail": outcome.error,
            "created_at": now,
        }
        for outcome in outcomes
        if outcome.suppress_as
    ]
    await suppress_outcomes(connection, rows, now=now)


async def _count_errors(connection: AsyncConnection, outcomes: Sequence[Outcome]) -> None:
    """Track failed sends in a row per campaign: a success resets the count.

    A campaign with a success in the group gets the failures after its last success as its
    count; one without gets its failures added.
    """
    streaks: dict[int, tuple[bool, int]] = {}
    for outcome in outcomes:
        reset, errors = streaks.get(outcome.campaign_id, (False, 0))
        if outcome.status is DeliveryStatus.SENT:
            streaks[outcome.campaign_id] = (True, 0)
        else:
            streaks[outcome.campaign_id] = (reset, errors + 1)
    resets = [
        {"campaign_id": campaign_id, "errors": errors}
        for campaign_id, (reset, errors) in streaks.items()
        if reset
    ]
    additions = [
        {"campaign_id": campaign_id, "errors": errors}
        for campaign_id, (reset, errors) in streaks.items()
        if not reset
    ]
    if resets:
        await connection.execute(_RESET_ERRORS, resets)
    if additions:
        await connection.execute(_ADD_ERRORS, additions)


async def pause_if_failing(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    max_errors: int,
    now: datetime,
    last_error: str | None = None,
) -> Row | None:
    """Pause a campaign whose last ``max_errors`` sends all failed, saying why (with the
    last error, which usually names the cause: a refused login, an untrusted certificate)."""
    reason = f"paused after {max_errors} failed sends in a row; check the mail server"
    if last_error:
        reason += f" (last error: {last_error[:LAST_ERROR_CHARACTERS]})"
    return await transition(
        connection,
        campaign_id,
        Action.PAUSE,
        conditions=(campaigns.c.consecutive_errors >= max_errors,),
        now=now,
        status_reason=reason,
    )


def _handed_back() -> dict[str, Any]:
    """Column values of a claimed delivery handed back unsent: the attempt did not count."""
    return {
        "status": _returned_status(),
        "lease_owner": None,
        "lease_expires_at": None,
        "attempts": case((deliveries.c.attempts > 0, deliveries.c.attempts - 1), else_=0),
    }


def _returned_status() -> ColumnElement[str]:
    """A delivery handed back goes to the queue, or is cancelled with its cancelled campaign."""
    campaign_status = (
        select(campaigns.c.status)
        .where(campaigns.c.id == deliveries.c.campaign_id)
        .scalar_subquery()
    )
    return case(
        (campaign_status == CampaignStatus.CANCELLED.value, DeliveryStatus.CANCELLED.value),
        else_=QUEUED,
    )


async def hand_back_all(connection: AsyncConnection, *, owner: str) -> int:
    """Hand back everything ``owner`` claimed and did not send (a graceful stop)."""
    statement = (
        update(deliveries)
        .where(deliveries.c.lease_owner == owner, deliveries.c.status == SENDING)
        .values(**_handed_back())
    )
    return await _hand_back(connection, statement)


async def hand_back(connection: AsyncConnection, delivery_ids: Sequence[int], *, owner: str) -> int:
    """Hand back claimed deliveries unsent (their campaign was paused or cancelled, their
    lease ran out locally, or the worker could not send them)."""
    if not delivery_ids:
        return 0
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id.in_(list(delivery_ids)),
            deliveries.c.lease_owner == owner,
            deliveries.c.status == SENDING,
        )
        .values(**_handed_back())
    )
    return await _hand_back(connection, statement)


async def skip_suppressed(
    connection: AsyncConnection,
    reasons: dict[int, tuple[str, str]],
    *,
    campaign_id: int,
    owner: str,
    scope: int,
) -> None:
    """Claimed deliveries found on the suppression list right before sending become skipped.

    ``reasons`` maps delivery id to (email, suppression reason); their cooldown
    reservations are given back, since nothing was sent.
    """
    if not reasons:
        return
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id == bindparam("delivery_id"),
            deliveries.c.lease_owner == owner,
            deliveries.c.status == SENDING,
        )
        .values(
            status=DeliveryStatus.SKIPPED.value,
            code=SkipCode.SUPPRESSED.value,
            reason=bindparam("reason"),
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    await connection.execute(
        statement,
        [
            {"delivery_id": delivery_id, "reason": suppressed_reason(reason)}
            for delivery_id, (_email, reason) in reasons.items()
        ],
    )
    await give_back_reservations(
        connection,
        campaign_id=campaign_id,
        scope=scope,
        emails=[email for email, _reason in reasons.values()],
    )


async def next_retry_at(connection: AsyncConnection, *, now: datetime) -> datetime | None:
    """When the earliest queued retry, or delivery due later (``due_at``), of a sending
    campaign becomes due."""
    open_now = (
        (deliveries.c.due_at.is_(None)) | (deliveries.c.due_at <= now),
        (deliveries.c.window_closes_at.is_(None)) | (deliveries.c.window_closes_at > now),
    )
    retry = await _earliest(connection, deliveries.c.next_attempt_at, where=open_now)
    due = await _earliest(connection, deliveries.c.due_at, where=(deliveries.c.due_at > now,))
    return min((value for value in (retry, due) if value is not None), default=None)


async def _earliest(
    connection: AsyncConnection,
    column: ColumnElement[datetime],
    *,
    where: tuple[ColumnElement[bool], ...],
) -> datetime | None:
    statement = (
        select(func.min(column))
        .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
        .where(
            campaigns.c.status == CampaignStatus.SENDING.value,
            campaigns.c.fanned_out_at.is_not(None),
            deliveries.c.status == QUEUED,
            column.is_not(None),
            *where,
        )
    )
    value: datetime | None = (await connection.execute(statement)).scalar_one_or_none()
    return value


async def recover_expired_leases(connection: AsyncConnection) -> int:
    """Deliveries whose worker went silent past the lease (on the database's clock) are
    taken back: to the queue, or cancelled with their cancelled campaign."""
    statement = (
        update(deliveries)
        .where(
            deliveries.c.status == SENDING,
            deliveries.c.lease_expires_at < database_now(connection),
        )
        .values(status=_returned_status(), lease_owner=None, lease_expires_at=None)
    )
    return await _hand_back(connection, statement)


async def _hand_back(connection: AsyncConnection, statement: Update) -> int:
    """Run a hand-back; the deliveries it cancels give their cooldown reservations back
    (only those rows: ``RETURNING`` names them)."""
    rows = (
        await connection.execute(
            statement.returning(deliveries.c.campaign_id, deliveries.c.email, deliveries.c.status)
        )
    ).all()
    cancelled: dict[int, list[str]] = {}
    for campaign_id, email, status in rows:
        if status == DeliveryStatus.CANCELLED.value:
            cancelled.setdefault(int(campaign_id), []).append(str(email))
    for campaign_id, emails in cancelled.items():
        await give_back_in_any_scope(connection, campaign_id=campaign_id, emails=emails)
    return len(rows)
