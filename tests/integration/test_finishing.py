"""Finishing a campaign: the scheduler's check for deliveries left to send, on real
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.settings import Settings
from campaignd.store import runs
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import deliveries
from tests.integration.scheduling_helpers import (
    campaign,
    make_campaign,
    make_organization,
    scheduler_for,
    soon,
)

EMAILS = ("a@example.org", "b@example.org", "c@example.org")


async def _all_sent_but_the_last(database: Database, campaign_id: int, status: str) -> int:
    """Every delivery of the campaign sent but the one with the highest id, left in
    ``status``; returns that one's id."""
    async with database.transaction() as connection:
        ids = sorted(
            int(value)
            for value in (
                await connection.execute(
                    deliveries.select()
                    .with_only_columns(deliveries.c.id)
                    .where(deliveries.c.campaign_id == campaign_id)
                )
            ).scalars()
        )
        await connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids[:-1]))
            .values(status="sent", sent_at=utcnow())
        )
        await connection.execute(
            update(deliveries).where(deliveries.c.id == ids[-1]).values(status=status)
        )
    return ids[-1]


@pytest.mark.parametrize("status", ["queued", "sending"])
async def test_one_delivery_left_keeps_the_campaign_sending_until_it_is_final(
    database: Database, settings: Settings, status: str
) -> None:
    organization = await make_organization(database)
    campaign_id = await make_campaign(database, organization, emails=EMAILS, scheduled_for=soon(-1))
    scheduler = scheduler_for(database, settings)
    await scheduler.tick()
    last = await _all_sent_but_the_last(database, campaign_id, status)

    report = await scheduler.tick()

    assert report.finished == []
    assert (await campaign(database, campaign_id))["status"] == CampaignStatus.SENDING.value
    async with database.transaction() as connection:
        assert await runs.finish_if_done(connection, campaign_id, now=utcnow()) is None
        await connection.execute(
            update(deliveries).where(deliveries.c.id == last).values(status="failed")
        )

    report = await scheduler.tick()

    assert report.finished == [campaign_id]
    row = await campaign(database, campaign_id)
    assert row["status"] == CampaignStatus.SENT.value
