"""The link in every message: unsubscribe from everything, or manage one's lists.

The link's page is a preference centre: it shows the organization's lists the address
belongs to, and lets its owner leave one of them, leave everything, or stay. Leaving
everything is what the RFC 8058 one-click POST does too: the address is suppressed for
the organization (``unsubscribed``), so nothing the organization sends reaches it, and its
memberships and its contact say so as well. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import ContactStatus, MemberStatus
from campaignd.store import audit
from campaignd.store import lists as list_store
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.list_contacts import change_contact_status, contact_ids
from campaignd.store.outbox import record_event
from campaignd.store.suppressions import add_suppressions, is_suppressed

ACTOR = "unsubscribe-link"
"""Who the audit log names: whoever holds the message's link (no account behind it)."""


@dataclass(frozen=True)
class Preferences:
    email: str
    suppressed: bool
    """Nothing the organization sends reaches the address (it unsubscribed, bounced...)."""
    lists: list[list_store.Membership]
    """The organization's lists the address belongs to (confirmed or unconfirmed)."""
    left: str | None = None
    """The name of the list asked about with ``left``, when the address has left it."""


async def preferences(
    database: Database, *, organization_id: int, email: str, left: int | None = None
) -> Preferences:
    """What the preference centre shows; reading it changes nothing. ``left``: a list id
    whose name to give back if the address has left that list (the page says so)."""
    async with database.connection() as connection:
        suppressed = await is_suppressed(connection, organization_id=organization_id, email=email)
        memberships = await list_store.memberships(
            connection, organization_id=organization_id, email=email
        )
        gone: list[list_store.Membership] = []
        if left is not None:
            gone = await list_store.memberships(
                connection,
                organization_id=organization_id,
                email=email,
                statuses=[MemberStatus.UNSUBSCRIBED.value],
            )
    left_name = next((item.name for item in gone if item.list_id == left), None)
    return Preferences(email=email, suppressed=suppressed, lists=memberships, left=left_name)


async def _leave(
    connection: AsyncConnection,
    *,
    organization_id: int,
    email: str,
    list_ids: list[int] | None,
    via: str,
) -> list[str]:
    """The address leaves ``list_ids`` (None: every list); the names it left, audited."""
    found = await contact_ids(connection, organization_id=organization_id, emails=[email])
    if email not in found:
        return []
    now = utcnow()
    left = await list_store.leave(
        connection,
        organization_id=organization_id,
        contact_id=found[email],
        list_ids=list_ids,
        now=now,
    )
    if list_ids is None:
        await change_contact_status(
            connection,
            contact_id=found[email],
            status=ContactStatus.UNSUBSCRIBED,
            from_statuses=[ContactStatus.SUBSCRIBED],
            now=now,
        )
    if left:
        await audit.record(
            connection,
            actor=ACTOR,
            action="list.leave",
            organization_id=organization_id,
            detail={"email": email, "lists": left, "via": via},
        )
    return left


async def leave_list(
    database: Database, *, organization_id: int, email: str, list_id: int
) -> str | None:
    """The address leaves one list of the organization; the list's name, or None when the
    address was not an active member of such a list (nothing changes)."""
    async with database.transaction() as connection:
        left = await _leave(
            connection,
            organization_id=organization_id,
            email=email,
            list_ids=[list_id],
            via="page",
        )
    return left[0] if left else None


async def unsubscribe(database: Database, *, organization_id: int, email: str, via: str) -> bool:
    """Unsubscribe ``email`` from everything the organization sends, in one transaction:
    suppress it (``unsubscribed``, audited as ``suppression.unsubscribe``), leave every list
    (``list.leave``), and mark its contact unsubscribed.

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
            await record_event(
                connection, organization_id, "unsubscribed", {"email": email, "via": via}
            )
        await _leave(
            connection, organization_id=organization_id, email=email, list_ids=None, via=via
        )
    return bool(added)
