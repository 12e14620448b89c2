"""Admin UI sessions, stored server-side: the cookie holds a random id, this table its hash.

A session names its API token by id (never by value). It counts while it is not past its
expiry and its token is not revoked; signing out deletes it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.rows import Row, first
from campaignd.store.schema import admin_sessions, api_tokens, organizations

SESSION_ID_BYTES = 32


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def create_session(
    connection: AsyncConnection,
    *,
    token_id: int,
    now: datetime,
    lifetime: timedelta,
    flashes: list[list[str]] | None = None,
) -> str:
    """Store a new session for ``token_id``; returns its id (only its hash is stored)."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    await connection.execute(
        insert(admin_sessions).values(
            id_hash=hash_session_id(session_id),
            token_id=token_id,
            flashes=flashes or None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return session_id


async def session_by_id(
    connection: AsyncConnection, session_id: str, *, now: datetime
) -> Row | None:
    """The unexpired session with its token's fields (``name``, ``role``, ``organization_id``,
    ``organization_slug``, ``revoked_at``), whether or not the token is still live."""
    statement = (
        select(
            admin_sessions.c.token_id,
            admin_sessions.c.flashes,
            admin_sessions.c.expires_at,
            api_tokens.c.name,
            api_tokens.c.role,
            api_tokens.c.organization_id,
            api_tokens.c.revoked_at,
            organizations.c.slug.label("organization_slug"),
        )
        .select_from(
            admin_sessions.join(api_tokens, api_tokens.c.id == admin_sessions.c.token_id).outerjoin(
                organizations, organizations.c.id == api_tokens.c.organization_id
            )
        )
        .where(
            admin_sessions.c.id_hash == hash_session_id(session_id),
            admin_sessions.c.expires_at > now,
        )
    )
    return first(await connection.execute(statement))


async def save_flashes(
    connection: AsyncConnection, session_id: str, flashes: list[list[str]]
) -> None:
    value: Any = flashes or None
    await connection.execute(
        update(admin_sessions)
        .where(admin_sessions.c.id_hash == hash_session_id(session_id))
        .values(flashes=value)
    )


async def end_session(connection: AsyncConnection, session_id: str) -> Row | None:
    """Delete the session; returns its token's ``token_id``, ``name`` and ``organization_id``
    (None: there was no such session)."""
    statement = (
        delete(admin_sessions)
        .where(admin_sessions.c.id_hash == hash_session_id(session_id))
        .returning(admin_sessions.c.token_id)
    )
    ended = first(await connection.execute(statement))
    if ended is None:
        return None
    token = first(
        await connection.execute(
            select(api_tokens.c.name, api_tokens.c.organization_id).where(
                api_tokens.c.id == ended["token_id"]
            )
        )
    )
    return {"token_id": ended["token_id"], **(token or {"name": "?", "organization_id": None})}


async def delete_dead_sessions(connection: AsyncConnection, *, now: datetime) -> int:
    """Delete expired sessions and those of revoked tokens (they no longer count anyway)."""
    revoked = select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_not(None))
    statement = delete(admin_sessions).where(
        or_(admin_sessions.c.expires_at <= now, admin_sessions.c.token_id.in_(revoked))
    )
    return int((await connection.execute(statement)).rowcount)
