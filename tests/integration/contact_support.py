"""Helpers of the contact tests: what the database holds, and campaigns sent for real."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import contacts, organizations, suppressions
from tests.integration.delivery_support import sending_campaign, worker


async def organization_id(database: Database, slug: str) -> int:
    async with database.connection() as connection:
        value = await connection.scalar(
            select(organizations.c.id).where(organizations.c.slug == slug)
        )
    assert value is not None
    return int(value)


async def contact_statuses(database: Database, slug: str = "acme") -> dict[str, str]:
    """Address -> status of the organization's contacts."""
    identifier = await organization_id(database, slug)
    async with database.connection() as connection:
        rows = await connection.execute(
            select(contacts.c.email, contacts.c.status).where(
                contacts.c.organization_id == identifier
            )
        )
        return {str(address): str(status) for address, status in rows}


async def contact_attributes(database: Database, slug: str = "acme") -> dict[str, Any]:
    identifier = await organization_id(database, slug)
    async with database.connection() as connection:
        rows = await connection.execute(
            select(contacts.c.email, contacts.c.attributes).where(
                contacts.c.organization_id == identifier
            )
        )
        return {str(address): dict(attributes) for address, attributes in rows}


async def suppressed(database: Database, slug: str = "acme") -> dict[str, str]:
    """Address -> reason on the organization's suppression list."""
    identifier = await organization_id(database, slug)
    async with database.connection() as connection:
        rows = await connection.execute(
            select(suppressions.c.email, suppressions.c.reason).where(
                suppressions.c.organization_id == identifier
            )
        )
        return {str(address): str(reason) for address, reason in rows}


async def send_campaign(
    database: Database,
    settings: Settings,
    recipients: Sequence[str | tuple[str, dict[str, Any]]],
    *,
    slug: str = "acme",
    name: str = "Winter Event",
) -> int:
    """A campaign of the organization started, fanned out and sent by a worker (burst)."""
    campaign_id = await sending_campaign(
        database,
        settings,
        recipients,
        organization_id=await organization_id(database, slug),
        name=name,
    )
    await worker(database, settings).run_burst()
    return campaign_id


def outbox(settings: Settings) -> Path:
    return Path(settings.email_transport.removeprefix("file://"))


def messages_to(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    """The messages the file transport wrote for ``address``."""
    found = []
    for path in sorted(outbox(settings).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        if str(message["To"]).strip().lower().endswith(address):
            found.append(message)
    return found
