"""The first start of an empty database: one platform admin token, printed once, ever.

Whether the first start happened is recorded in the database (``instance_secrets``,
``bootstrapped_at``), so a later start never prints a token again, even when every token
has been revoked: whoever can read the service's log must not get an admin token from
it. The way back in is ``campaignd token create`` from a shell on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaignd.actions.principal import Role
from campaignd.store import audit
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.secrets import record_once
from campaignd.store.tokens import count_tokens, create_token

BOOTSTRAPPED = "bootstrapped_at"
RECOVERY = "campaignd token create --role platform_admin"


@dataclass(frozen=True)
class FirstStart:
    token: str | None
    """The first platform admin token (only on the very first start), else None."""
    live_platform_admins: int
    """Platform admin tokens not revoked (0: only the CLI can let anyone in)."""


async def first_start(database: Database) -> FirstStart:
    """Make the first platform admin token when this database never had any token and no
    first start was recorded; record the first start in the same transaction."""
    async with database.transaction() as connection:
        now = utcnow().isoformat()
        if await count_tokens(connection) == 0 and await record_once(connection, BOOTSTRAPPED, now):
            row, token = await create_token(
                connection, role=Role.PLATFORM_ADMIN.value, organization_id=None, name="first admin"
            )
            await audit.record(
                connection,
                actor="serve",
                action="token.create",
                target=str(row["id"]),
                detail={"role": row["role"], "name": row["name"], "firstStart": True},
            )
            return FirstStart(token, 1)
        await record_once(connection, BOOTSTRAPPED, now)  # a database from before this rule
        live = await count_tokens(connection, live=True, role=Role.PLATFORM_ADMIN.value)
        return FirstStart(None, live)
