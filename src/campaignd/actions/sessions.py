"""Signing in to the admin UI with an API token, and out: server-side sessions, audited."""

from __future__ import annotations

from datetime import timedelta

from campaignd.actions.services import Services
from campaignd.store import audit
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row
from campaignd.store.sessions import create_session, delete_dead_sessions, end_session
from campaignd.store.tokens import TOKEN_PREFIX, token_by_plain


async def sign_in(
    services: Services, token: str, *, client: str | None, replacing: str | None = None
) -> tuple[str, Row] | None:
    """A new session for a live ``token``: (session id, token row); None when the token is
    not valid. ``replacing`` names a session of this browser to end at the same time.

    A wrong token takes no write lock: it is looked up on a read connection first.
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    async with services.database.connection() as connection:
        if await token_by_plain(connection, token) is None:
            return None
    now = utcnow()
    lifetime = timedelta(seconds=services.settings.session_max_age)
    async with services.database.transaction() as connection:
        row = await token_by_plain(connection, token)
        if row is None:
            return None
        if replacing is not None:
            await end_session(connection, replacing)
        await delete_dead_sessions(connection, now=now)
        session_id = await create_session(
            connection, token_id=int(row["id"]), now=now, lifetime=lifetime
        )
        await audit.record(
            connection,
            actor=f"token:{row['name']}",
            action="session.start",
            organization_id=row["organization_id"],
            target=str(row["id"]),
            detail={"client": client},
        )
    return session_id, row


async def sign_out(services: Services, session_id: str, *, client: str | None) -> None:
    """End the session on the server: its cookie no longer signs anyone in, anywhere."""
    async with services.database.transaction() as connection:
        ended = await end_session(connection, session_id)
        if ended is not None:
            await audit.record(
                connection,
                actor=f"token:{ended['name']}",
                action="session.end",
                organization_id=ended["organization_id"],
                target=str(ended["token_id"]),
                detail={"client": client},
            )
