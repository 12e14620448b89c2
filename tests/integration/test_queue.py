"""The delivery queue: deliveries handed back after a cancel are cancelled, not left queued."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from campaignd.domain.lifecycle import Trigger
from campaignd.store import campaigns, organizations, queue, recipients, runs
from campaignd.store.campaign_audience import REPLAN_AFTER
from campaignd.store.campaigns import delivery_counts
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.schema import cooldown_ledger

RULES = CooldownRules(days=90, scope="global")


async def _sending_campaign(database: Database, size: int) -> tuple[int, int]:
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug="acme", name="Acme")
        campaign_id = await campaigns.create_campaign(
            connection,
            organization_id=organization["id"],
            actor="test",
            name="Winter Event",
            subject="Hi",
            text_body="Hello",
        )
        await recipients.add_recipients(
            connection,
            campaign_id,
            [(f"person{number}@example.com", None) for number in range(size)],
        )
        await runs.start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="test", now=utcnow()
        )
    async with database.transaction() as connection:
        await fan_out(connection, campaign_id, rules=RULES, now=utcnow())
    return campaign_id, int(organization["id"])


async def _statuses(database: Database, campaign_id: int) -> dict[str, int]:
    async with database.connection() as connection:
        counts = await delivery_counts(connection, [campaign_id])
    return counts[campaign_id]


async def test_handed_back_and_expired_leases_of_a_cancelled_campaign_are_cancelled(
    database: Database,
) -> None:
    campaign_id, organization_id = await _sending_campaign(database, 10)
    now = utcnow()
    async with database.transaction() as connection:
        first = await queue.claim_batch(
            connection, campaign_id, owner="stopping", limit=3, now=now, lease_seconds=60
        )
        second = await queue.claim_batch(
            connection, campaign_id, owner="silent", limit=3, now=now, lease_seconds=-1
        )
    assert len(first) == len(second) == 3
    async with database.transaction() as connection:
        cancelled = await runs.cancel_campaign(
            connection, campaign_id, now=utcnow(), scope=0, organization_id=organization_id
        )
    assert cancelled is not None
    assert await _statuses(database, campaign_id) == {"sending": 6, "cancelled": 4}

    async with database.transaction() as connection:
        assert await queue.hand_back_all(connection, owner="stopping") == 3
        assert await queue.recover_expired_leases(connection) == 3
    assert await _statuses(database, campaign_id) == {"cancelled": 10}


async def test_deliveries_cancelled_on_hand_back_give_their_reservations_back(
    database: Database,
) -> None:
    """In flight when the campaign was cancelled, never sent: the addresses are free again."""
    campaign_id, organization_id = await _sending_campaign(database, 4)
    now = utcnow()
    async with database.transaction() as connection:
        stopping = await queue.claim_batch(
            connection, campaign_id, owner="stopping", limit=2, now=now, lease_seconds=60
        )
        silent = await queue.claim_batch(
            connection, campaign_id, owner="silent", limit=2, now=now, lease_seconds=-1
        )
        await runs.cancel_campaign(
            connection, campaign_id, now=now, scope=0, organization_id=organization_id
        )
    assert await _ledger(database) == {str(row["email"]) for row in stopping + silent}

    async with database.transaction() as connection:
        assert await queue.hand_back_all(connection, owner="stopping") == 2
    assert await _ledger(database) == {str(row["email"]) for row in silent}
    async with database.transaction() as connection:
        assert await queue.recover_expired_leases(connection) == 2
    assert await _ledger(database) == set()


async def _ledger(database: Database) -> set[str]:
    """Addresses the contact ledger holds (none was held before these tests' campaigns)."""
    async with database.connection() as connection:
        return {
            str(email)
            for email in (await connection.execute(select(cooldown_ledger.c.email))).scalars()
        }


async def test_leases_handed_back_of_a_sending_campaign_return_to_the_queue(
    database: Database,
) -> None:
    campaign_id, _ = await _sending_campaign(database, 5)
    async with database.transaction() as connection:
        claimed = await queue.claim_batch(
            connection, campaign_id, owner="worker", limit=5, now=utcnow(), lease_seconds=60
        )
        assert len(claimed) == 5
        assert await queue.hand_back_all(connection, owner="worker") == 5
    assert await _statuses(database, campaign_id) == {"queued": 5}


async def test_a_claim_after_an_id_takes_only_the_deliveries_after_it(
    database: Database,
) -> None:
    campaign_id, _ = await _sending_campaign(database, 10)
    now = utcnow()
    async with database.transaction() as connection:
        first = await queue.claim_batch(
            connection, campaign_id, owner="w", limit=3, now=now, lease_seconds=60
        )
        ids = [int(row["id"]) for row in first]
        later = await queue.claim_batch(
            connection,
            campaign_id,
            owner="w",
            limit=10,
            now=now,
            lease_seconds=60,
            after_id=ids[1],  # the third one is already taken; nothing before it comes back
        )
    assert [int(row["id"]) for row in later] == sorted(int(row["id"]) for row in later)
    assert len(later) == 7
    assert min(int(row["id"]) for row in later) > ids[2]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_large_fan_out_leaves_statistics_the_claims_are_planned_with(
    database: Database,
) -> None:
    """PostgreSQL: recipients imported into a draft were never analysed; planned as if the
    table were empty, a claim of a 10 M campaign sorted every delivery (11 s a claim)."""
    await _sending_campaign(database, REPLAN_AFTER)
    async with database.connection() as connection:
        estimated = await connection.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'deliveries'")
        )
    assert estimated is not None and estimated >= REPLAN_AFTER * 0.9
