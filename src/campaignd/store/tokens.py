"""API tokens: shown once, stored as a SHA-256 hash, prefixed ``cmp_``."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.columns import utcnow
from campaignd.store.rows import Row, every, first
from campaignd.store.schema import api_tokens, organizations

TOKEN_PREFIX = "cmp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(
    connection: AsyncConnection, *, role: str, organization_id: int | None, name: str
) -> tuple[Row, str]:
    """Store a new token; returns its row and the plain token, which is never stored."""
    token = new_token()
    statement = (
        insert(api_tokens)
        .values(
            name=name,
            role=role,
            organization_id=organization_id,
            token_hash=hash_token(token),
            prefix=token[:8],
            created_at=utcnow(),
        )
        .returning(*api_tokens.c)
    )
    row = first(await connection.execute(statement))
    assert row is not None
    return row, token


async def token_by_plain(connection: AsyncConnection, token: str) -> Row | None:
    """The live token row (with the organization slug) for a presented token, or None."""
    statement = (
        select(api_tokens, organizations.c.slug.label("organization_slug"))
        .select_from(api_tokens.outerjoin(organizations))
        .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
    )
    return first(await connection.execute(statement))


async def list_tokens(connection: AsyncConnection) -> list[Row]:
    statement = (
        select(api_tokens, organizations.c.slug.label("organization_slug"))
        .select_from(api_tokens.outerjoin(organizations))
        .order_by(api_tokens.c.id)
    )
    return every(await connection.execute(statement))


async def revoke_token(connection: AsyncConnection, token_id: int) -> bool:
    statement = (
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return (await connection.execute(statement)).rowcount == 1


async def count_live_tokens(connection: AsyncConnection) -> int:
    statement = (
        select(func.count()).select_from(api_tokens).where(api_tokens.c.revoked_at.is_(None))
    )
    return int((await connection.execute(statement)).scalar_one())


async def count_tokens(
    connection: AsyncConnection, *, live: bool = False, role: str | None = None
) -> int:
    """How many tokens were ever made (``live``: not revoked), of ``role`` if given."""
    statement = select(func.count()).select_from(api_tokens)
    if live:
        statement = statement.where(api_tokens.c.revoked_at.is_(None))
    if role is not None:
        statement = statement.where(api_tokens.c.role == role)
    return int((await connection.execute(statement)).scalar_one())
