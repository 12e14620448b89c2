"""Helpers of the delivery tests: a campaign started and fanned out without the scheduler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select

from campaignd.delivery.rate import RateLimiter
from campaignd.delivery.transports import Transport, create_transport
from campaignd.delivery.worker import Worker
from campaignd.domain.lifecycle import Trigger
from campaignd.settings import Settings
from campaignd.store.campaigns import create_campaign, fanned_out_among, get_campaign
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.organizations import create_organization
from campaignd.store.recipients import add_recipients
from campaignd.store.rows import Row, every
from campaignd.store.runs import runs_of_campaign, start_campaign
from campaignd.store.schema import cooldown_ledger, deliveries
from campaignd.store.waiting import shown_status
from campaignd.wakeups import LocalWakeups

Recipient = str | tuple[str, dict[str, Any]]


async def organization(database: Database, slug: str = "acme") -> int:
    async with database.transaction() as connection:
        row = await create_organization(connection, slug=slug, name=slug.title())
    return int(row["id"])


async def sending_campaign(
    database: Database,
    settings: Settings,
    recipients: Sequence[Recipient],
    *,
    organization_id: int,
    name: str = "Winter Event",
    subject: str = "Hello {{ name }}",
    html_body: str | None = "<p>Hi {{ name }}</p>",
    text_body: str | None = "Hi {{ name }}",
    from_address: str | None = None,
    reply_to: str | None = None,
) -> int:
    """A campaign started by hand and fanned out: its deliveries are queued."""
    async with database.transaction() as connection:
        campaign_id = await create_campaign(
            connection,
            organization_id=organization_id,
            actor="test",
            name=name,
            subject=subject,
            html_body=html_body,
            text_body=text_body,
            from_address=from_address,
            reply_to=reply_to,
        )
        pairs = [
            (recipient, None) if isinstance(recipient, str) else recipient
            for recipient in recipients
        ]
        await add_recipients(connection, campaign_id, pairs)
    async with database.transaction() as connection:
        run = await start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="test", now=utcnow()
        )
        assert run is not None
    async with database.transaction() as connection:
        rules = CooldownRules(days=settings.cooldown_days, scope=settings.cooldown_scope)
        await fan_out(connection, campaign_id, rules=rules, now=utcnow())
    return campaign_id


def worker(
    database: Database,
    settings: Settings,
    *,
    transport: Transport | None = None,
    rate_limiter: RateLimiter | None = None,
    owner: str | None = None,
) -> Worker:
    return Worker(
        database,
        settings,
        transport=transport or create_transport(settings),
        wakeups=LocalWakeups(),
        rate_limiter=rate_limiter,
        owner=owner,
    )


async def deliveries_of(database: Database, campaign_id: int) -> dict[str, Row]:
    async with database.connection() as connection:
        rows = every(
            await connection.execute(
                select(deliveries).where(deliveries.c.campaign_id == campaign_id)
            )
        )
        fanned_out = bool(await fanned_out_among(connection, [campaign_id]))
    for row in rows:
        row["status"] = shown_status(str(row["status"]), fanned_out=fanned_out)
    return {str(row["email"]): row for row in rows}


async def campaign_of(database: Database, campaign_id: int) -> Row:
    async with database.connection() as connection:
        row = await get_campaign(connection, campaign_id)
    assert row is not None
    return row


async def latest_run(database: Database, campaign_id: int) -> Row:
    async with database.connection() as connection:
        rows = await runs_of_campaign(connection, campaign_id)
    return rows[0]


async def ledger(database: Database) -> dict[str, int | None]:
    """Address -> campaign holding it in the cooldown ledger."""
    async with database.connection() as connection:
        rows = (
            await connection.execute(select(cooldown_ledger.c.email, cooldown_ledger.c.campaign_id))
        ).all()
    return {str(email): campaign_id for email, campaign_id in rows}


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
