"""Helpers of the webhook tests: endpoints made through the actions, a clock the test moves,
events recorded as the code that reports a change records them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from campaignd.actions import webhooks as actions
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.delivery.webhooks import Dispatcher
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.outbox import record_event
from campaignd.store.rows import Row, every
from campaignd.store.schema import webhook_endpoints, webhook_messages
from tests.integration.webhook_receiver import Receiver

PLATFORM = Principal(actor="test", role=Role.PLATFORM_ADMIN)


@dataclass
class Clock:
    """The real time plus an offset the test moves forward (hours pass at once)."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def to(self, moment: datetime) -> None:
        """Move forward to ``moment`` (a scheduled attempt's time), if it is ahead."""
        ahead = moment - self()
        if ahead > timedelta():
            self.offset += ahead


def webhook_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"webhook_allow_loopback": True, "webhook_timeout": 5.0}
    return settings.model_copy(update=values | overrides)


async def add_endpoint(
    database: Database,
    settings: Settings,
    url: str,
    *,
    organization: str = "acme",
    event_types: Sequence[str] = ("sent", "unsubscribed", "clicked"),
) -> actions.Created:
    services = Services(database, settings, wakeups=None)  # type: ignore[arg-type]
    return await actions.add_endpoint(
        services, PLATFORM, url=url, event_types=event_types, organization=organization
    )


async def record(database: Database, organization_id: int, kind: str, **data: Any) -> int:
    async with database.transaction() as connection:
        return await record_event(connection, organization_id, kind, data)


async def messages(database: Database) -> list[Row]:
    async with database.connection() as connection:
        statement = select(webhook_messages).order_by(webhook_messages.c.id)
        return every(await connection.execute(statement))


async def endpoint_row(database: Database, endpoint_id: int) -> Row:
    async with database.connection() as connection:
        statement = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        rows = every(await connection.execute(statement))
    return rows[0]


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, written out here independently of campaignd."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in headers["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


@asynccontextmanager
async def receivers(count: int = 1) -> AsyncIterator[list[Receiver]]:
    started = [await Receiver().start() for _ in range(count)]
    try:
        yield started
    finally:
        for receiver in started:
            await receiver.close()


def dispatcher(
    database: Database, settings: Settings, clock: Clock, owner: str = "a"
) -> Dispatcher:
    return Dispatcher(database, settings, clock=clock, owner=owner)
