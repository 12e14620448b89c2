"""Secrets generated once and shared by every instance through the database."""

from __future__ import annotations

import secrets as random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.database import Database
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.schema import instance_secrets


async def instance_secret(database: Database, name: str) -> str:
    """The stored secret ``name``, generated on first use (first writer wins).

    Read first, so that only the first use takes a writer transaction.
    """
    async with database.connection() as connection:
        stored = await connection.scalar(
            select(instance_secrets.c.value).where(instance_secrets.c.name == name)
        )
    if stored is not None:
        return str(stored)
    async with database.transaction() as connection:
        statement = insert_ignoring_conflicts(database.dialect, instance_secrets, ["name"]).values(
            name=name, value=random.token_urlsafe(48)
        )
        await connection.execute(statement)
        value = await connection.scalar(
            select(instance_secrets.c.value).where(instance_secrets.c.name == name)
        )
    assert value is not None
    return str(value)


async def record_once(connection: AsyncConnection, name: str, value: str) -> bool:
    """Store ``name`` unless it is there already; True when this call stored it."""
    statement = insert_ignoring_conflicts(
        connection.dialect.name, instance_secrets, ["name"]
    ).values(name=name, value=value)
    return (await connection.execute(statement)).rowcount == 1
