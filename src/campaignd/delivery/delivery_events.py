"""Webhook events for delivery outcomes (``sent``, ``failed``), written in the recorder's
transaction: only for organizations with an endpoint that receives them (asked of a cache,
so an organization without one costs its sending nothing), all in one round trip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.outbox import Event, Subscriptions, record_events
from campaignd.store.queue import Outcome


def _data(outcome: Outcome, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "campaignId": outcome.campaign_id,
        "deliveryId": outcome.delivery_id,
        "email": outcome.email,
    }
    if outcome.status is DeliveryStatus.SENT:
        return data | {"sentAt": now.isoformat().replace("+00:00", "Z"), "reply": outcome.reply}
    return data | {"error": outcome.error}


async def record_delivery_events(
    connection: AsyncConnection,
    outcomes: Sequence[Outcome],
    *,
    organizations: Mapping[int, int],
    subscriptions: Subscriptions,
    now: datetime,
) -> int:
    """Record ``sent`` and ``failed`` (final failures only, not retries) for ``outcomes``
    (written ones: ``store.queue.record_outcomes``); ``organizations`` maps campaign id to
    organization id. The number of events recorded."""
    listening = {
        organization: await subscriptions.types_of(connection, organization)
        for organization in set(organizations.values())
    }
    if not any(listening.values()):
        return 0
    events: list[Event] = []
    for outcome in outcomes:
        if outcome.status is DeliveryStatus.SENT:
            kind = "sent"
        elif outcome.status is DeliveryStatus.FAILED:
            kind = "failed"
        else:
            continue
        organization = organizations[outcome.campaign_id]
        if kind in listening[organization]:
            events.append(Event(organization, kind, _data(outcome, now)))
    await record_events(connection, events, now=now)
    return len(events)
