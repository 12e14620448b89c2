"""The outbox of webhook events, written in the transaction of the change each one reports.

``record_event`` is how any change announces itself::

    async with database.transaction() as connection:
        ...  # the change itself
        await record_event(connection, organization_id, "clicked", {"campaignId": 7, ...})

It is one ``INSERT ... SELECT``: one row per enabled endpoint of the organization that
receives the type, none when no endpoint does. The event commits or rolls back with the
change, so a crash loses none and invents none. The dispatcher (``delivery.webhooks``)
delivers the rows afterwards.

Code that reports many events at once (a worker's delivery outcomes) asks the
``Subscriptions`` cache first whether anyone listens, so an organization without an
endpoint costs its sending nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, cast, column, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.webhooks import EVENT_TYPES, new_message_id
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.schema import webhook_endpoints, webhook_messages

PENDING = "pending"


@dataclass(frozen=True)
class Event:
    """One event to record: its organization, type and data (JSON-serialisable)."""

    organization_id: int
    type: str
    data: Mapping[str, Any]


def types_pattern(event_type: str) -> str:
    """The ``LIKE`` pattern that finds ``event_type`` in ``webhook_endpoints.event_types``."""
    return f"%,{event_type},%"


def _insert_statement() -> Any:
    subscribers = select(
        bindparam("message_id", type_=webhook_messages.c.message_id.type),
        webhook_endpoints.c.id,
        webhook_endpoints.c.organization_id,
        bindparam("event_type", type_=webhook_messages.c.event_type.type),
        bindparam("payload", type_=webhook_messages.c.payload.type),
        bindparam("created_at", type_=UtcDateTime),
        literal(PENDING),
        bindparam("next_attempt_at", type_=UtcDateTime),
    ).where(
        webhook_endpoints.c.organization_id == bindparam("organization_id"),
        webhook_endpoints.c.enabled.is_(True),
        webhook_endpoints.c.event_types.like(bindparam("pattern")),
    )
    return webhook_messages.insert().from_select(
        [
            "message_id",
            "endpoint_id",
            "organization_id",
            "event_type",
            "payload",
            "created_at",
            "status",
            "next_attempt_at",
        ],
        subscribers,
    )


_INSERT = _insert_statement()
_INSERT_COUNTED = _insert_statement().returning(webhook_messages.c.id)


def _parameters(event: Event, now: datetime) -> dict[str, Any]:
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event.type!r}")
    return {
        "message_id": new_message_id(),
        "organization_id": event.organization_id,
        "event_type": event.type,
        "payload": json.dumps(dict(event.data), separators=(",", ":"), default=str),
        "created_at": now,
        "next_attempt_at": now,
        "pattern": types_pattern(event.type),
    }


async def record_event(
    connection: AsyncConnection,
    organization_id: int,
    type: str,
    payload: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> int:
    """Record one event in the caller's transaction; the number of endpoints it goes to
    (0: no enabled endpoint of the organization receives ``type``, nothing written)."""
    event = Event(organization_id, type, payload)
    result = await connection.execute(_INSERT_COUNTED, _parameters(event, now or utcnow()))
    return len(result.all())


async def record_events(
    connection: AsyncConnection, events: Sequence[Event], *, now: datetime | None = None
) -> None:
    """Record many events in the caller's transaction: one statement with one parameter
    (the events as a JSON array, read as a table and joined with the subscribed endpoints),
    whatever their number."""
    if not events:
        return
    moment = now or utcnow()
    document = json.dumps(
        [
            {
                "message_id": parameters["message_id"],
                "organization_id": parameters["organization_id"],
                "event_type": parameters["event_type"],
                "payload": parameters["payload"],
            }
            for parameters in (_parameters(event, moment) for event in events)
        ],
        separators=(",", ":"),
    )
    await connection.execute(
        _many_statement(connection.dialect.name), {"events": document, "now": moment}
    )


_COLUMNS = [
    "message_id",
    "endpoint_id",
    "organization_id",
    "event_type",
    "payload",
    "created_at",
    "status",
    "next_attempt_at",
]


_MANY: dict[str, Any] = {}


def _many_statement(dialect: str) -> Any:
    """``record_events``'s statement for ``dialect``, built once: parameters ``events``
    and ``now``."""
    if dialect not in _MANY:
        events_table = _event_rows(dialect)
        moment = bindparam("now", type_=UtcDateTime)
        subscribers = select(
            events_table.c.message_id,
            webhook_endpoints.c.id,
            webhook_endpoints.c.organization_id,
            events_table.c.event_type,
            events_table.c.payload,
            moment,
            literal(PENDING),
            moment,
        ).where(
            webhook_endpoints.c.organization_id == events_table.c.organization_id,
            webhook_endpoints.c.enabled.is_(True),
            webhook_endpoints.c.event_types.like(literal("%,") + events_table.c.event_type + ",%"),
        )
        _MANY[dialect] = webhook_messages.insert().from_select(_COLUMNS, subscribers)
    return _MANY[dialect]


def _event_rows(dialect: str) -> Any:
    """The JSON array parameter ``events`` as a table (``message_id``, ``organization_id``,
    ``event_type``, ``payload``): ``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on
    SQLite."""
    if dialect == "postgresql":
        return (
            func.jsonb_to_recordset(cast(bindparam("events", type_=Text), JSONB))
            .table_valued(
                column("message_id", Text),
                column("organization_id", BigInteger),
                column("event_type", Text),
                column("payload", Text),
            )
            .render_derived(name="events", with_types=True)
        )
    each = func.json_each(bindparam("events", type_=Text)).table_valued("value")
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$.{name}"), kind).label(name)
            for name, kind in (
                ("message_id", Text()),
                ("organization_id", BigInteger()),
                ("event_type", Text()),
                ("payload", Text()),
            )
        )
    ).subquery("events")


class Subscriptions:
    """Which event types each organization's enabled endpoints receive, read at most once
    every ``seconds`` for all organizations together (one small query).

    An endpoint added or enabled is heard of within ``seconds``; until then events a cached
    "nobody listens" answer skips are not recorded (``record_event`` itself never skips).
    """

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self._types: dict[int, frozenset[str]] = {}
        self._read_at: float | None = None

    def forget(self) -> None:
        self._read_at = None

    async def types_of(self, connection: AsyncConnection, organization_id: int) -> frozenset[str]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.seconds:
            self._types = await subscribed_types(connection)
            self._read_at = now
        return self._types.get(organization_id, frozenset())

    async def listens(self, connection: AsyncConnection, organization_id: int, type: str) -> bool:
        return type in await self.types_of(connection, organization_id)


async def subscribed_types(connection: AsyncConnection) -> dict[int, frozenset[str]]:
    """Per organization, the event types its enabled endpoints receive."""
    statement = select(webhook_endpoints.c.organization_id, webhook_endpoints.c.event_types).where(
        webhook_endpoints.c.enabled.is_(True)
    )
    found: dict[int, set[str]] = {}
    for row in await connection.execute(statement):
        found.setdefault(int(row.organization_id), set()).update(
            part for part in str(row.event_types).split(",") if part
        )
    return {organization: frozenset(types) for organization, types in found.items()}
