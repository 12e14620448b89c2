"""Helpers for the scheduler, fan-out and lock tests: campaigns in a database, polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from campaignd.domain.lifecycle import Action, Trigger
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.settings import Settings
from campaignd.store import campaigns, organizations, recipients, runs
from campaignd.store.campaigns import fanned_out_among
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.rows import Row
from campaignd.store.schema import cooldown_ledger, deliveries
from campaignd.store.schema import runs as runs_table
from campaignd.store.waiting import shown_status
from campaignd.wakeups import LocalWakeups, Wakeups


async def make_organization(database: Database, slug: str = "acme") -> int:
    async with database.transaction() as connection:
        row = await organizations.create_organization(connection, slug=slug, name=slug.title())
    return int(row["id"])


async def make_campaign(
    database: Database,
    organization_id: int,
    *,
    name: str = "Spring news",
    emails: Iterable[str] = ("a@example.org", "b@example.org"),
    scheduled_for: datetime | None = None,
) -> int:
    """A draft campaign with recipients; scheduled when ``scheduled_for`` is given (any time)."""
    async with database.transaction() as connection:
        campaign_id = await campaigns.create_campaign(
            connection,
            organization_id=organization_id,
            actor="test",
            name=name,
            subject="Hello",
            text_body="Hi",
        )
        await recipients.add_recipients(connection, campaign_id, ((e, None) for e in emails))
        if scheduled_for is not None:
            await campaigns.transition(
                connection, campaign_id, Action.SCHEDULE, scheduled_for=scheduled_for
            )
    return campaign_id


async def execute_now(database: Database, campaign_id: int) -> Row | None:
    async with database.transaction() as connection:
        return await runs.start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="alice", now=utcnow()
        )


async def campaign(database: Database, campaign_id: int) -> Row:
    async with database.connection() as connection:
        row = await campaigns.get_campaign(connection, campaign_id)
    assert row is not None
    return row


async def runs_of(database: Database, campaign_id: int) -> list[Row]:
    async with database.connection() as connection:
        return await runs.runs_of_campaign(connection, campaign_id)


async def run_count(database: Database) -> int:
    async with database.connection() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(runs_table))).scalar_one()
        )


async def delivery_states(database: Database, campaign_id: int) -> dict[str, Row]:
    """email -> delivery row, its status as shown to users."""
    async with database.connection() as connection:
        result = await connection.execute(
            select(deliveries).where(deliveries.c.campaign_id == campaign_id)
        )
        rows = {row["email"]: dict(row) for row in result.mappings()}
        fanned_out = bool(await fanned_out_among(connection, [campaign_id]))
    for row in rows.values():
        row["status"] = shown_status(str(row["status"]), fanned_out=fanned_out)
    return rows


async def seed_ledger(
    database: Database,
    emails: Iterable[str],
    *,
    campaign_id: int | None,
    campaign_name: str,
    contacted_at: datetime,
    scope: int = 0,
) -> None:
    """Contact ledger rows as if ``campaign_name`` had reached ``emails`` at ``contacted_at``."""
    values: list[dict[str, Any]] = [
        {
            "scope": scope,
            "email": email,
            "campaign_id": campaign_id,
            "campaign_name": campaign_name,
            "contacted_at": contacted_at,
        }
        for email in emails
    ]
    async with database.transaction() as connection:
        await connection.execute(insert(cooldown_ledger), values)


def scheduler_for(
    database: Database,
    settings: Settings,
    *,
    wakeups: Wakeups | None = None,
    **overrides: Any,
) -> Scheduler:
    """A scheduler with the in-process lock and the given settings overrides."""
    return Scheduler(
        database,
        settings.model_copy(update=overrides),
        lock=LocalLock(),
        wakeups=wakeups or LocalWakeups(),
    )


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, every: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)


def soon(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
