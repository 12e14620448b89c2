"""Statements on organizations."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import utcnow
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import organizations


async def create_organization(connection: AsyncConnection, *, slug: str, name: str) -> Row:
    statement = (
        insert(organizations)
        .values(slug=slug, name=name, created_at=utcnow())
        .returning(*organizations.c)
    )
    row = first(await connection.execute(statement))
    assert row is not None
    return row


async def organization_by_slug(connection: AsyncConnection, slug: str) -> Row | None:
    statement = select(organizations).where(organizations.c.slug == slug)
    return first(await connection.execute(statement))


async def organization_by_id(connection: AsyncConnection, organization_id: int) -> Row | None:
    statement = select(organizations).where(organizations.c.id == organization_id)
    return first(await connection.execute(statement))


async def list_organizations(connection: AsyncConnection) -> list[Row]:
    return every(await connection.execute(select(organizations).order_by(organizations.c.slug)))
