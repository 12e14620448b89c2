"""Statements on webhook endpoints, their messages (the outbox rows) and attempts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.schema import webhook_attempts, webhook_endpoints, webhook_messages

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MESSAGE_STATUSES = (PENDING, DELIVERED, FAILED)

ENDPOINT_COLUMNS = tuple(column for column in webhook_endpoints.c if column.name != "secret")


def stored_types(event_types: Sequence[str]) -> str:
    return "," + ",".join(event_types) + ","


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as it may be shown: everything but its secret."""

    id: int
    organization_id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Endpoint:
        return cls(
            id=int(row.id),
            organization_id=int(row.organization_id),
            url=str(row.url),
            description=str(row.description or ""),
            event_types=tuple(part for part in str(row.event_types).split(",") if part),
            enabled=bool(row.enabled),
            disabled_reason=row.disabled_reason,
            disabled_at=row.disabled_at,
            failing_since=row.failing_since,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True)
class Message:
    """One event for one endpoint."""

    id: int
    message_id: str
    endpoint_id: int
    event_type: str
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Message:
        return cls(
            id=int(row.id),
            message_id=str(row.message_id),
            endpoint_id=int(row.endpoint_id),
            event_type=str(row.event_type),
            created_at=row.created_at,
            status=str(row.status),
            attempts=int(row.attempts),
            next_attempt_at=row.next_attempt_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
        )


MESSAGE_COLUMNS = (
    webhook_messages.c.id,
    webhook_messages.c.message_id,
    webhook_messages.c.endpoint_id,
    webhook_messages.c.event_type,
    webhook_messages.c.created_at,
    webhook_messages.c.status,
    webhook_messages.c.attempts,
    webhook_messages.c.next_attempt_at,
    webhook_messages.c.last_status_code,
    webhook_messages.c.last_error,
    webhook_messages.c.delivered_at,
)


@dataclass(frozen=True)
class Attempt:
    id: int
    message_id: str
    event_type: str
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Claimed:
    """A message claimed for delivery, with what a POST needs."""

    id: int
    message_id: str
    endpoint_id: int
    organization_id: int
    event_type: str
    data: dict[str, Any]
    created_at: datetime
    attempts: int
    url: str
    sealed_secret: str = field(repr=False)


# ---------------------------------------------------------------- endpoints


async def add_endpoint(
    connection: AsyncConnection,
    *,
    organization_id: int,
    url: str,
    description: str,
    event_types: Sequence[str],
    now: datetime,
) -> Endpoint:
    """A new enabled endpoint; its secret is set next (``set_secret``), in the same
    transaction, since it is sealed for the row's id."""
    statement = (
        insert(webhook_endpoints)
        .values(
            organization_id=organization_id,
            url=url,
            description=description,
            secret="",
            event_types=stored_types(event_types),
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        .returning(*ENDPOINT_COLUMNS)
    )
    row = (await connection.execute(statement)).one()
    return Endpoint.from_row(row)


async def set_secret(connection: AsyncConnection, endpoint_id: int, sealed: str) -> None:
    await connection.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(secret=sealed)
    )


def _scoped(endpoint_id: int, organization_id: int | None) -> list[Any]:
    conditions: list[Any] = [webhook_endpoints.c.id == endpoint_id]
    if organization_id is not None:
        conditions.append(webhook_endpoints.c.organization_id == organization_id)
    return conditions


async def list_endpoints(connection: AsyncConnection, *, organization_id: int) -> list[Endpoint]:
    statement = (
        select(*ENDPOINT_COLUMNS)
        .where(webhook_endpoints.c.organization_id == organization_id)
        .order_by(webhook_endpoints.c.id)
    )
    return [Endpoint.from_row(row) for row in await connection.execute(statement)]


async def get_endpoint(
    connection: AsyncConnection, endpoint_id: int, *, organization_id: int | None
) -> Endpoint | None:
    """The endpoint, if it is in ``organization_id`` (None: any organization)."""
    statement = select(*ENDPOINT_COLUMNS).where(*_scoped(endpoint_id, organization_id))
    row = (await connection.execute(statement)).first()
    return Endpoint.from_row(row) if row is not None else None


async def update_endpoint(
    connection: AsyncConnection,
    endpoint_id: int,
    *,
    organization_id: int | None,
    now: datetime,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> Endpoint | None:
    """Change what is given; enabling clears why it was disabled and its failure streak."""
    values: dict[str, Any] = {"updated_at": now}
    if url is not None:
        values["url"] = url
    if description is not None:
        values["description"] = description
    if event_types is not None:
        values["event_types"] = stored_types(event_types)
    if enabled is True:
        values |= {
            "enabled": True,
            "disabled_reason": None,
            "disabled_at": None,
            "failing_since": None,
        }
    elif enabled is False:
        values |= {"enabled": False, "disabled_reason": "disabled by an administrator"}
        values["disabled_at"] = now
    statement = (
        update(webhook_endpoints)
        .where(*_scoped(endpoint_id, organization_id))
        .values(**values)
        .returning(*ENDPOINT_COLUMNS)
    )
    row = (await connection.execute(statement)).first()
    return Endpoint.from_row(row) if row is not None else None


async def remove_endpoint(
    connection: AsyncConnection, endpoint_id: int, *, organization_id: int | None
) -> Endpoint | None:
    """Delete the endpoint with its messages and attempts."""
    endpoint = await get_endpoint(connection, endpoint_id, organization_id=organization_id)
    if endpoint is None:
        return None
    messages = select(webhook_messages.c.id).where(webhook_messages.c.endpoint_id == endpoint_id)
    await connection.execute(
        delete(webhook_attempts).where(webhook_attempts.c.message_row_id.in_(messages))
    )
    await connection.execute(
        delete(webhook_messages).where(webhook_messages.c.endpoint_id == endpoint_id)
    )
    await connection.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return endpoint


# ---------------------------------------------------------------- messages and attempts


async def list_messages(
    connection: AsyncConnection, endpoint_id: int, *, status: str | None, limit: int
) -> list[Message]:
    """The endpoint's newest messages first."""
    statement = select(*MESSAGE_COLUMNS).where(webhook_messages.c.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(webhook_messages.c.status == status)
    statement = statement.order_by(webhook_messages.c.id.desc()).limit(limit)
    return [Message.from_row(row) for row in await connection.execute(statement)]


async def list_attempts(
    connection: AsyncConnection, endpoint_id: int, *, limit: int
) -> list[Attempt]:
    """The endpoint's newest attempts first."""
    statement = (
        select(
            webhook_attempts.c.id,
            webhook_messages.c.message_id,
            webhook_messages.c.event_type,
            webhook_attempts.c.attempted_at,
            webhook_attempts.c.status_code,
            webhook_attempts.c.error,
            webhook_attempts.c.duration_ms,
        )
        .join(webhook_messages, webhook_messages.c.id == webhook_attempts.c.message_row_id)
        .where(webhook_attempts.c.endpoint_id == endpoint_id)
        .order_by(webhook_attempts.c.id.desc())
        .limit(limit)
    )
    return [
        Attempt(
            id=int(row.id),
            message_id=str(row.message_id),
            event_type=str(row.event_type),
            attempted_at=row.attempted_at,
            status_code=row.status_code,
            error=row.error,
            duration_ms=int(row.duration_ms),
        )
        for row in await connection.execute(statement)
    ]


async def replay(
    connection: AsyncConnection, endpoint_id: int, message_id: str, *, now: datetime
) -> Message | None:
    """Send a message again, now (with the same id): it becomes pending and due."""
    statement = (
        update(webhook_messages)
        .where(
            webhook_messages.c.endpoint_id == endpoint_id,
            webhook_messages.c.message_id == message_id,
        )
        .values(
            status=PENDING,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
            delivered_at=None,
        )
        .returning(*MESSAGE_COLUMNS)
    )
    row = (await connection.execute(statement)).first()
    return Message.from_row(row) if row is not None else None


# ---------------------------------------------------------------- dispatching


def _due(now: datetime) -> Any:
    return and_(
        webhook_messages.c.status == PENDING,
        webhook_messages.c.next_attempt_at <= now,
        or_(
            webhook_messages.c.lease_expires_at.is_(None),
            webhook_messages.c.lease_expires_at <= now,
        ),
    )


async def due_endpoints(
    connection: AsyncConnection, *, now: datetime, exclude: Sequence[int], limit: int
) -> list[int]:
    """Enabled endpoints with a message due now (those in ``exclude`` left out)."""
    statement = (
        select(webhook_messages.c.endpoint_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_messages.c.endpoint_id)
        .where(_due(now), webhook_endpoints.c.enabled.is_(True))
        .group_by(webhook_messages.c.endpoint_id)
        .order_by(func.min(webhook_messages.c.next_attempt_at))
        .limit(limit)
    )
    if exclude:
        statement = statement.where(webhook_messages.c.endpoint_id.not_in(list(exclude)))
    return [int(value) for value in (await connection.execute(statement)).scalars()]


async def claim(
    connection: AsyncConnection,
    endpoint_id: int,
    *,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
) -> list[Claimed]:
    """Take up to ``limit`` due messages of an enabled endpoint under a lease (oldest
    first). The rows are picked first and locked (PostgreSQL skips rows another dispatcher
    holds; SQLite's writer transaction lets one dispatcher in), then leased by id: a
    ``LIMIT ... FOR UPDATE`` subquery inside the ``UPDATE`` may be run more than once and
    take more rows than the limit."""
    picked = (
        select(webhook_messages.c.id)
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_messages.c.endpoint_id)
        .where(
            webhook_messages.c.endpoint_id == endpoint_id,
            webhook_endpoints.c.enabled.is_(True),
            _due(now),
        )
        .order_by(webhook_messages.c.next_attempt_at, webhook_messages.c.id)
        .limit(limit)
        .with_for_update(of=webhook_messages, skip_locked=True)
    )
    ids = [int(value) for value in (await connection.execute(picked)).scalars()]
    if not ids:
        return []
    statement = (
        update(webhook_messages)
        .where(webhook_messages.c.id.in_(ids))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(
            webhook_messages.c.id,
            webhook_messages.c.message_id,
            webhook_messages.c.endpoint_id,
            webhook_messages.c.organization_id,
            webhook_messages.c.event_type,
            webhook_messages.c.payload,
            webhook_messages.c.created_at,
            webhook_messages.c.attempts,
        )
    )
    rows = list(await connection.execute(statement))
    if not rows:
        return []
    endpoint = (
        await connection.execute(
            select(webhook_endpoints.c.url, webhook_endpoints.c.secret).where(
                webhook_endpoints.c.id == endpoint_id
            )
        )
    ).one()
    return sorted(
        (
            Claimed(
                id=int(row.id),
                message_id=str(row.message_id),
                endpoint_id=int(row.endpoint_id),
                organization_id=int(row.organization_id),
                event_type=str(row.event_type),
                data=json.loads(row.payload),
                created_at=row.created_at,
                attempts=int(row.attempts),
                url=str(endpoint.url),
                sealed_secret=str(endpoint.secret),
            )
            for row in rows
        ),
        key=lambda claimed: claimed.id,
    )


@dataclass(frozen=True)
class Result:
    """What one POST came to."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """The receiver says the endpoint is gone for good (410): stop at once."""
        return self.status_code == 410


async def record_result(
    connection: AsyncConnection,
    claimed: Claimed,
    result: Result,
    *,
    owner: str,
    now: datetime,
    next_attempt_at: datetime | None,
    disable_after: timedelta,
) -> str | None:
    """Record an attempt and its consequences: the message delivered, due again at
    ``next_attempt_at``, or given up (None); the endpoint's failure streak, and whether it
    is now disabled. A message delivered or given up keeps in ``next_attempt_at`` when it
    finished (what retention goes by). Returns the disabled reason when this attempt
    disabled the endpoint. Only a message still leased by ``owner`` changes."""
    await connection.execute(
        insert(webhook_attempts).values(
            message_row_id=claimed.id,
            endpoint_id=claimed.endpoint_id,
            attempted_at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    values: dict[str, Any] = {
        "attempts": claimed.attempts + 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if result.delivered:
        values |= {"status": DELIVERED, "delivered_at": now, "next_attempt_at": now}
    elif next_attempt_at is None or result.gone:
        values |= {"status": FAILED, "next_attempt_at": now}
    else:
        values |= {"next_attempt_at": next_attempt_at}
    await connection.execute(
        update(webhook_messages)
        .where(webhook_messages.c.id == claimed.id, webhook_messages.c.lease_owner == owner)
        .values(**values)
    )
    endpoint = webhook_endpoints.c.id == claimed.endpoint_id
    if result.delivered:
        await connection.execute(
            update(webhook_endpoints)
            .where(endpoint, webhook_endpoints.c.failing_since.is_not(None))
            .values(failing_since=None, last_error=None)
        )
        return None
    error = describe(result)
    failing_since = (
        await connection.execute(
            update(webhook_endpoints)
            .where(endpoint)
            .values(
                failing_since=func.coalesce(webhook_endpoints.c.failing_since, now),
                last_error=error,
            )
            .returning(webhook_endpoints.c.failing_since)
        )
    ).scalar()
    if result.gone:
        reason = f"the endpoint answered 410 Gone on {_moment(now)}"
    elif failing_since is not None and failing_since <= now - disable_after:
        reason = (
            f"no attempt succeeded from {_moment(failing_since)} to {_moment(now)}; last: {error}"
        )
    else:
        return None
    disabled = await connection.execute(
        update(webhook_endpoints)
        .where(endpoint, webhook_endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
    return reason if disabled.rowcount else None


def describe(result: Result) -> str:
    if result.status_code is not None:
        return f"HTTP {result.status_code}" + (f" ({result.error})" if result.error else "")
    return result.error or "no answer"


def _moment(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- retention


def _finished_before(before: datetime) -> Any:
    """Messages delivered or given up before ``before`` (``next_attempt_at`` of a finished
    message is when it finished; a replayed message is pending again; one pending or
    retrying never counts)."""
    return and_(
        webhook_messages.c.status.in_((DELIVERED, FAILED)),
        webhook_messages.c.next_attempt_at < before,
    )


async def count_finished(connection: AsyncConnection, *, before: datetime) -> tuple[int, int]:
    """How many messages ``delete_finished`` would delete, and how many attempts of theirs."""
    messages = await connection.scalar(
        select(func.count()).select_from(webhook_messages).where(_finished_before(before))
    )
    attempts = await connection.scalar(
        select(func.count())
        .select_from(
            webhook_attempts.join(
                webhook_messages, webhook_messages.c.id == webhook_attempts.c.message_row_id
            )
        )
        .where(_finished_before(before))
    )
    return int(messages or 0), int(attempts or 0)


async def delete_finished(
    connection: AsyncConnection, *, before: datetime, rows: int
) -> tuple[int, int]:
    """Delete up to ``rows`` finished messages (``_finished_before``) with their attempts;
    returns how many of each went. The messages are locked first (PostgreSQL), so a replay
    at the same moment either comes first (and the message stays) or finds it gone."""
    picked = (
        select(webhook_messages.c.id)
        .where(_finished_before(before))
        .order_by(webhook_messages.c.id)
        .limit(rows)
        .with_for_update(of=webhook_messages)
    )
    ids = [int(value) for value in (await connection.execute(picked)).scalars()]
    if not ids:
        return 0, 0
    attempts = await connection.execute(
        delete(webhook_attempts).where(webhook_attempts.c.message_row_id.in_(ids))
    )
    messages = await connection.execute(
        delete(webhook_messages).where(webhook_messages.c.id.in_(ids))
    )
    return int(messages.rowcount), int(attempts.rowcount)
