"""Unsubscribing through the link in a message: suppress the address, audited."""

from __future__ import annotations

from campaignd.store import audit
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.suppressions import add_suppressions

ACTOR = "unsubscribe-link"
"""Who the audit log names: whoever holds the message's link (no account behind it)."""


async def unsubscribe(database: Database, *, organization_id: int, email: str, via: str) -> bool:
    """Suppress ``email`` for its organization (``unsubscribed``) and write
    ``suppression.unsubscribe`` to the audit log, in one transaction.

    ``via`` says how: ``one-click`` (RFC 8058, from a mail client) or ``page`` (the
    button on the unsubscribe page). True when the address was not suppressed before;
    repeating it changes nothing and writes nothing. The address's contact, if any, becomes
    ``unsubscribed`` (``store.contact_status``). An address the organization erased is
    not stored again (``store.suppressions``): it is never mailed already.
    """
    async with database.transaction() as connection:
        added = await add_suppressions(
            connection,
            organization_id=organization_id,
            emails=[email],
            reason="unsubscribed",
            now=utcnow(),
            detail="unsubscribe link",
        )
        if added:
            await audit.record(
                connection,
                actor=ACTOR,
                action="suppression.unsubscribe",
                organization_id=organization_id,
                detail={"emails": [email], "count": 1, "via": via},
            )
    return bool(added)
