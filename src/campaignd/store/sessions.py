"""Lookups behind the admin UI's sessions: the session names a token by id, never by value."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.rows import Row, first
from campaignd.store.schema import api_tokens, organizations


async def live_token_by_id(connection: AsyncConnection, token_id: int) -> Row | None:
    """The token row (with its organization slug) while it is not revoked, else None."""
    statement = (
        select(api_tokens, organizations.c.slug.label("organization_slug"))
        .select_from(api_tokens.outerjoin(organizations))
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
    )
    return first(await connection.execute(statement))
