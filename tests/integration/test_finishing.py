"""Finishing a campaign: the scheduler's check for deliveries left to send and the mark
it starts from, on real SQLite and PostgreSQL; on PostgreSQL, that the check does not step
over the deliveries already sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.settings import Settings
from campaignd.store import runs, unfinished
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
from tests.support import settings_for

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


async def _mark_of(database: Database, campaign_id: int) -> int | None:
    row = await campaign(database, campaign_id)
    return None if row["unfinished_from_id"] is None else int(row["unfinished_from_id"])


async def test_each_pass_moves_the_mark_up_to_the_lowest_unfinished_delivery(
    database: Database, settings: Settings
) -> None:
    organization = await make_organization(database)
    emails = [f"person{number}@example.org" for number in range(5)]
    campaign_id = await make_campaign(database, organization, emails=emails, scheduled_for=soon(-1))
    scheduler = scheduler_for(database, settings)
    await scheduler.tick()
    async with database.connection() as connection:
        ids = sorted(
            int(value)
            for value in (
                await connection.execute(
                    select(deliveries.c.id).where(deliveries.c.campaign_id == campaign_id)
                )
            ).scalars()
        )
    assert await _mark_of(database, campaign_id) == ids[0]

    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries).where(deliveries.c.id.in_(ids[:2])).values(status="sent")
        )
        await connection.execute(
            update(deliveries).where(deliveries.c.id == ids[2]).values(status="sending")
        )
    assert (await scheduler.tick()).finished == []
    assert await _mark_of(database, campaign_id) == ids[2]  # sending is unfinished too

    async with database.transaction() as connection:  # a retry: back in the queue
        await connection.execute(
            update(deliveries).where(deliveries.c.id == ids[2]).values(status="queued")
        )
        await connection.execute(
            update(deliveries).where(deliveries.c.id.in_(ids[3:])).values(status="failed")
        )
    assert (await scheduler.tick()).finished == []
    assert await _mark_of(database, campaign_id) == ids[2]

    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries).where(deliveries.c.id == ids[2]).values(status="sent")
        )
    assert (await scheduler.tick()).finished == [campaign_id]
    assert (await campaign(database, campaign_id))["status"] == CampaignStatus.SENT.value


def _buffers(connection: psycopg.Connection[Any], statement: str) -> int:
    """Shared buffers (hit or read) one run of ``statement`` touched."""
    row = connection.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}").fetchone()
    assert row is not None
    document = row[0]
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


async def test_from_its_mark_a_pass_steps_over_none_of_the_deliveries_already_sent(
    postgres_url: str, tmp_path: Path
) -> None:
    """100,000 deliveries, all sent but the last ten since the last pass and not vacuumed
    (PostgreSQL): the next pass moves the mark once; from then on the probe reads a few
    pages, where starting from the first delivery steps over 99,990 index entries."""
    settings = settings_for(postgres_url, tmp_path)
    database = Database(postgres_url)
    try:
        organization = await make_organization(database)
        campaign_id = await make_campaign(database, organization, scheduled_for=soon(-1))
        scheduler = scheduler_for(database, settings)
        await scheduler.tick()
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute("ALTER TABLE deliveries SET (autovacuum_enabled = off)")
            connection.execute(
                "UPDATE deliveries SET status = 'sent' WHERE campaign_id = %s", (campaign_id,)
            )
            connection.execute(
                "INSERT INTO deliveries (campaign_id, email, status, attempts)"
                " SELECT %s, 'r' || n || '@example.net', 'queued', 0"
                " FROM generate_series(1, 100000) AS n",
                (campaign_id,),
            )
            connection.execute("VACUUM ANALYZE deliveries")
            connection.execute(
                "UPDATE deliveries SET status = 'sent' WHERE campaign_id = %s AND id <"
                " (SELECT max(id) - 9 FROM deliveries WHERE campaign_id = %s)",
                (campaign_id, campaign_id),
            )
        assert (await scheduler.tick()).finished == []
        mark = await _mark_of(database, campaign_id)
    finally:
        await database.dispose()
    statement = str(
        unfinished.probe_statement().compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        last_ten = connection.execute(
            "SELECT min(id) FROM deliveries WHERE campaign_id = %s AND status = 'queued'",
            (campaign_id,),
        ).fetchone()
        assert last_ten is not None and mark == last_ten[0]
        from_the_mark = _buffers(connection, statement)
        connection.execute("UPDATE campaigns SET unfinished_from_id = NULL")
        from_the_first = _buffers(connection, statement)
    assert from_the_mark < 20, from_the_mark
    assert from_the_first > 10 * from_the_mark, (from_the_first, from_the_mark)
