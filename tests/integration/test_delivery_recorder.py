"""The group-commit recorder keeps one connection, and takes a fresh one after an error."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.delivery.recorder import Recorder
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import deliveries
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


async def _write(connection: AsyncConnection, outcomes: Sequence[queue.Outcome]) -> None:
    await queue.record_outcomes(
        connection, outcomes, owner=OWNER, now=utcnow(), scopes={}, organizations={}
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
        connection: AsyncConnection, group: Sequence[queue.Outcome]
    ) -> None:
        used.append(connection)
        await _write(connection, group)
        if len(used) == 1:
            raise RuntimeError("the database went away mid-transaction")

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
        connection: AsyncConnection, group: Sequence[queue.Outcome]
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
