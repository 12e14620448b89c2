"""Erasing an address while an import of it is under way, on PostgreSQL (READ COMMITTED):
whichever commits first, the address is not stored afterwards.

Each test holds one side's transaction open, starts the other side, proves that it really
waits on the first (``pg_stat_activity`` shows it waiting for a lock), then lets the first
commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.campaigns import create_campaign
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.erasure import erase_address
from campaignd.store.migrate import upgrade
from campaignd.store.organizations import create_organization
from campaignd.store.recipients import add_recipients_counted
from campaignd.store.schema import deliveries

ADA = "ada@example.com"


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[Database]:
    upgrade(postgres_url)
    handle = Database(postgres_url)
    yield handle
    await handle.dispose()


async def draft(database: Database) -> tuple[int, int]:
    async with database.transaction() as connection:
        organization = await create_organization(connection, slug="acme", name="Acme")
        organization_id = int(organization["id"])
        campaign_id = await create_campaign(
            connection,
            organization_id=organization_id,
            actor="test",
            name="Spring",
            subject="Hi",
            html_body="<p>Hi</p>",
        )
    return organization_id, campaign_id


async def stored(database: Database, campaign_id: int) -> list[str]:
    async with database.connection() as connection:
        rows = await connection.execute(
            select(deliveries.c.email).where(deliveries.c.campaign_id == campaign_id)
        )
        return sorted(str(row.email) for row in rows)


async def waiting_for_a_lock(database: Database, timeout: float = 20.0) -> None:
    """Until another session of this database waits for a lock (the racer is blocked)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with database.connection() as connection:
            if int(await connection.scalar(query) or 0) > 0:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


async def import_ada(database: Database, campaign_id: int) -> int:
    async with database.transaction() as connection:
        added = await add_recipients_counted(connection, campaign_id, [(ADA, None)])
    return added.added


async def erase_ada(database: Database, organization_id: int) -> None:
    async with database.transaction() as connection:
        await erase_address(connection, organization_id=organization_id, email=ADA, now=utcnow())


async def test_an_import_that_checked_before_the_erasure_is_erased_after_it(
    database: Database,
) -> None:
    organization_id, campaign_id = await draft(database)
    importing: AsyncConnection = await database.writer_connection()
    try:
        transaction = await importing.begin()
        added = await add_recipients_counted(importing, campaign_id, [(ADA, {"n": 1})])
        assert added.added == 1
        erasing = asyncio.create_task(erase_ada(database, organization_id))
        await waiting_for_a_lock(database)
        assert not erasing.done()
        await transaction.commit()
    finally:
        await importing.close()
    await asyncio.wait_for(erasing, 30)
    remaining = await stored(database, campaign_id)
    assert ADA not in remaining
    assert len(remaining) == 1 and remaining[0].endswith("@erased.invalid")


async def test_an_import_during_an_erasure_leaves_the_address_out(database: Database) -> None:
    organization_id, campaign_id = await draft(database)
    erasing: AsyncConnection = await database.writer_connection()
    try:
        transaction = await erasing.begin()
        await erase_address(erasing, organization_id=organization_id, email=ADA, now=utcnow())
        importing = asyncio.create_task(import_ada(database, campaign_id))
        await waiting_for_a_lock(database)
        assert not importing.done()
        await transaction.commit()
    finally:
        await erasing.close()
    assert await asyncio.wait_for(importing, 30) == 0
    assert await stored(database, campaign_id) == []
    async with database.connection() as connection:
        count = await connection.scalar(select(func.count()).select_from(deliveries))
    assert count == 0
