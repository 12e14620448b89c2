"""Helpers of the bounce and complaint tests: a campaign sent to a real SMTP server with
per-delivery bounce addresses, and what became of it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from campaignd.actions.services import Services
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.rows import Row
from campaignd.store.schema import audit_log
from campaignd.store.suppressions import get_suppression
from campaignd.wakeups import LocalWakeups
from tests.integration.delivery_support import (
    deliveries_of,
    organization,
    sending_campaign,
    worker,
)

BOUNCE_DOMAIN = "bounce.acme.example"


def feedback_settings(settings: Settings, smtp_url: str, **overrides: object) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": smtp_url,
            "from_address": "News <news@acme.example>",
            "bounce_domain": BOUNCE_DOMAIN,
            "feedback_minimum_sent": 1000,
            "cooldown_days": 0,
            **overrides,
        }
    )


async def sent_campaign(
    database: Database,
    settings: Settings,
    recipients: Sequence[str],
    *,
    slug: str = "acme",
    organization_id: int | None = None,
) -> tuple[int, int, dict[str, Row]]:
    """(organization id, campaign id, deliveries by address) of a campaign sent in full."""
    if organization_id is None:
        organization_id = await organization(database, slug)
    campaign_id = await sending_campaign(
        database, settings, list(recipients), organization_id=organization_id
    )
    await worker(database, settings).run_burst()
    return organization_id, campaign_id, await deliveries_of(database, campaign_id)


def services_of(database: Database, settings: Settings) -> Services:
    return Services(database, settings, LocalWakeups())


async def suppression_reason(database: Database, organization_id: int, email: str) -> str | None:
    async with database.connection() as connection:
        row = await get_suppression(connection, organization_id=organization_id, email=email)
    return None if row is None else str(row["reason"])


async def audit_count(database: Database, action: str) -> int:
    async with database.connection() as connection:
        statement = select(func.count()).select_from(audit_log).where(audit_log.c.action == action)
        return int((await connection.execute(statement)).scalar_one())


async def organization_id_of(database: Database, slug: str) -> int:
    async with database.connection() as connection:
        row = await organization_by_slug(connection, slug)
    assert row is not None
    return int(row["id"])
