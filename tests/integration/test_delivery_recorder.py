"""The group-commit recorder keeps one connection, and takes a fresh one after an error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.delivery.recorder import Recorder, RecordingFailed, Writer
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, suppressions
from tests.integration.delivery_support import organization, sending_campaign

OWNER = "recorder-test"


async def _claimed(database: Database, settings: Settings, count: int) -> list[queue.Outcome]:
    organization_id = await organization(database)
    addresses = [f"person{number}@example.com" for number in range(count)]
    campaign_id = await sending_campaign(
        database, settings, addresses, organization_id=organization_id
    )
    async with database.transaction() as connection:
        rows = await queue.claim_batch(
            connection, campaign_id, owner=OWNER, limit=count, now=utcnow(), lease_seconds=600
        )
    return [
        queue.Outcome(
            delivery_id=int(row["id"]),
            campaign_id=campaign_id,
            email=str(row["email"]),
            status=DeliveryStatus.SENT,
            reply="250 OK",
        )
        for row in rows
    ]


async def _write(
    connection: AsyncConnection, outcomes: Sequence[queue.Outcome], careful: bool = False
) -> None:
    await queue.record_outcomes(
        connection,
        outcomes,
        owner=OWNER,
        now=utcnow(),
        scopes={},
        organizations={},
        careful=careful,
    )


async def _statuses(database: Database) -> list[str]:
    async with database.connection() as connection:
        rows = (await connection.execute(select(deliveries.c.status))).scalars().all()
    return sorted(str(status) for status in rows)


async def test_a_failed_transaction_is_rolled_back_and_retried_on_a_fresh_connection(
    database: Database, settings: Settings
) -> None:
    outcomes = await _claimed(database, settings, 2)
    used: list[AsyncConnection] = []

    async def write_then_fail_once(
        connection: AsyncConnection, group: Sequence[queue.Outcome], careful: bool
    ) -> None:
        used.append(connection)
        await _write(connection, group)
        if len(used) == 1:
            raise OperationalError("COMMIT", {}, ConnectionError("the database went away"))

    recorder = Recorder(database, write_then_fail_once)
    recorder.start()
    await recorder.record(outcomes[0])
    await recorder.record(outcomes[1])
    await recorder.close()

    assert len(used) == 3
    assert used[1] is not used[0]
    assert used[2] is used[1]
    assert await _statuses(database) == ["sent", "sent"]


async def test_a_connection_lost_between_commits_is_replaced(
    database: Database, settings: Settings
) -> None:
    outcomes = await _claimed(database, settings, 2)
    backends: list[int] = []

    async def write_and_note_backend(
        connection: AsyncConnection, group: Sequence[queue.Outcome], careful: bool
    ) -> None:
        if not database.is_sqlite:
            backends.append(
                int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            )
        await _write(connection, group)

    recorder = Recorder(database, write_and_note_backend)
    recorder.start()
    await recorder.record(outcomes[0])
    if not database.is_sqlite:
        async with database.connection() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]}
            )
    await recorder.record(outcomes[1])
    await recorder.close()

    assert await _statuses(database) == ["sent", "sent"]
    if not database.is_sqlite:
        assert backends[0] != backends[-1]


async def test_an_error_not_worth_retrying_fails_the_group_at_once(
    database: Database, settings: Settings
) -> None:
    """A bug (here a type error) is not retried forever: the outcome's future fails loudly,
    and nothing of the group is written."""
    outcomes = await _claimed(database, settings, 1)
    calls = 0

    async def write_with_a_bug(
        connection: AsyncConnection, group: Sequence[queue.Outcome], careful: bool
    ) -> None:
        nonlocal calls
        calls += 1
        await _write(connection, group)
        raise TypeError("a bug in the writer")

    recorder = Recorder(database, write_with_a_bug)
    recorder.start()
    with pytest.raises(RecordingFailed, match="a bug in the writer"):
        await recorder.record(outcomes[0])
    await recorder.close()
    assert calls == 1
    assert await _statuses(database) == ["sending"]


async def test_a_stale_outcome_changes_nothing_of_the_new_owners_send(
    database: Database, settings: Settings
) -> None:
    """A worker whose lease was taken over reports a failure: the other worker's send stays
    recorded, and so does its ledger entry (the cooldown still holds the address)."""
    outcomes = await _claimed(database, settings, 1)
    stale = outcomes[0]
    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries)
            .where(deliveries.c.id == stale.delivery_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        assert await queue.recover_expired_leases(connection) == 1
        taken = await queue.claim_batch(
            connection,
            stale.campaign_id,
            owner="the-new-owner",
            limit=1,
            now=utcnow(),
            lease_seconds=600,
        )
        assert [int(row["id"]) for row in taken] == [stale.delivery_id]
        await queue.record_outcomes(
            connection,
            [stale],
            owner="the-new-owner",
            now=utcnow(),
            scopes={stale.campaign_id: 0},
            organizations={},
        )
    failure = queue.Outcome(
        delivery_id=stale.delivery_id,
        campaign_id=stale.campaign_id,
        email=stale.email,
        status=DeliveryStatus.FAILED,
        error="550 rejected",
        suppress_as="bounced",
    )
    recorder = Recorder(database, _stale_writer(stale.campaign_id))
    recorder.start()
    await recorder.record(failure)
    await recorder.close()

    assert await _statuses(database) == ["sent"]
    async with database.connection() as connection:
        held = (await connection.execute(select(cooldown_ledger.c.email))).scalars().all()
        suppressed = (await connection.execute(select(suppressions.c.email))).scalars().all()
        streak = (
            await connection.execute(
                select(campaigns.c.consecutive_errors).where(campaigns.c.id == stale.campaign_id)
            )
        ).scalar_one()
    assert held == [stale.email]
    assert suppressed == []
    assert streak == 0


def _stale_writer(campaign_id: int) -> Writer:
    async def write(
        connection: AsyncConnection, group: Sequence[queue.Outcome], careful: bool
    ) -> None:
        written = await queue.record_outcomes(
            connection,
            group,
            owner=OWNER,
            now=utcnow(),
            scopes={campaign_id: 0},
            organizations={campaign_id: 1},
            careful=careful,
        )
        assert careful and written == []

    return write
