"""Webhook events for opens and clicks (``opened``, ``clicked``), written in the transaction
that records them: only for organizations with an endpoint that receives them (asked of a
cache, so tracking costs an organization without one nothing more)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store import outbox
from campaignd.store.schema import campaigns, deliveries
from campaignd.store.tracking import CLICK, Event

TYPES = {CLICK: "clicked"}
"""Tracking kinds by webhook event type; every other kind (an open) is ``opened``."""


async def record_engagement_events(
    connection: AsyncConnection,
    events: Sequence[Event],
    *,
    links: Mapping[int, tuple[str, ...]],
    subscriptions: outbox.Subscriptions,
    organizations: Mapping[int, int] | None = None,
) -> int:
    """Record ``opened``/``clicked`` for ``events`` (``links``: each campaign's tracked URLs,
    by link number; ``organizations``: the organization of campaigns the caller knows, the
    others are read); the number of webhook events recorded."""
    if not events:
        return 0
    campaign_ids = sorted({event.campaign_id for event in events})
    known = organizations or {}
    organizations = {key: known[key] for key in campaign_ids if key in known}
    missing = [key for key in campaign_ids if key not in organizations]
    if missing:
        rows = await connection.execute(
            select(campaigns.c.id, campaigns.c.organization_id).where(campaigns.c.id.in_(missing))
        )
        organizations |= {int(row.id): int(row.organization_id) for row in rows}
    listening = {
        organization: await subscriptions.types_of(connection, organization)
        for organization in set(organizations.values())
    }
    wanted = [
        event
        for event in events
        if event.campaign_id in organizations
        and TYPES.get(event.kind, "opened") in listening[organizations[event.campaign_id]]
    ]
    if not wanted:
        return 0
    addresses = {
        int(row.id): str(row.email)
        for row in await connection.execute(
            select(deliveries.c.id, deliveries.c.email).where(
                deliveries.c.id.in_(sorted({event.delivery_id for event in wanted}))
            )
        )
    }
    recorded: list[outbox.Event] = []
    for event in wanted:
        email = addresses.get(event.delivery_id)
        if email is None:  # pruned or erased meanwhile
            continue
        data: dict[str, object] = {
            "campaignId": event.campaign_id,
            "deliveryId": event.delivery_id,
            "email": email,
        }
        kind = TYPES.get(event.kind, "opened")
        if kind == "opened":
            data["machine"] = event.machine is not None
        if kind == "clicked" and event.link_index is not None:
            urls = links.get(event.campaign_id, ())
            if event.link_index < len(urls):
                data["url"] = urls[event.link_index]
            data["link"] = event.link_index
        recorded.append(outbox.Event(organizations[event.campaign_id], kind, data))
    await outbox.record_events(connection, recorded, now=events[-1].at)
    return len(recorded)
