"""Applying a bounce or a complaint: the delivery's outcome, the suppression list, the
campaign's counters, and a pause when its rates pass the thresholds.

Every intake (``actions.bounce_mailbox``, the provider webhooks) ends here. Applying an
event is one transaction and idempotent: the event is stored under its intake's id first,
and one seen before changes nothing.

- hard bounce: the delivery becomes ``bounced``; the address is suppressed (``bounced``)
  for the organization, and its contact says so (``store.contact_status``);
- soft bounce: counted per address; ``SOFT_BOUNCE_LIMIT`` distinct messages that soft
  bounced suppress it (``bounced``);
- complaint: the delivery becomes ``complained``; the address is suppressed
  (``complained``), so no campaign of the organization mails it again.

A campaign whose complaint rate passes ``COMPLAINT_PAUSE_RATE`` (0.3 %) or whose hard-bounce
rate passes ``BOUNCE_PAUSE_RATE``, once ``FEEDBACK_MINIMUM_SENT`` of its messages went out,
pauses itself as the pause action does (workers hear the halt) and says why in its
``statusReason`` and in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.feedback import (
    CampaignFigures,
    FeedbackEvent,
    FeedbackKind,
    Thresholds,
    pause_reason,
)
from campaignd.domain.lifecycle import Action, DeliveryStatus
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import audit, outbox
from campaignd.store import feedback as store
from campaignd.store.campaigns import get_campaign, transition
from campaignd.store.columns import utcnow
from campaignd.store.suppressions import add_suppressions

logger = logging.getLogger("campaignd.feedback")

COUNTER = {
    FeedbackKind.HARD_BOUNCE: "hard_bounces",
    FeedbackKind.SOFT_BOUNCE: "soft_bounces",
    FeedbackKind.COMPLAINT: "complaints",
}
OUTCOME = {
    FeedbackKind.HARD_BOUNCE: (DeliveryStatus.BOUNCED, (DeliveryStatus.SENT,)),
    FeedbackKind.COMPLAINT: (
        DeliveryStatus.COMPLAINED,
        (DeliveryStatus.SENT, DeliveryStatus.BOUNCED),
    ),
}
"""kind -> (the delivery's new status, the statuses it may take it from)."""


@dataclass(frozen=True)
class Applied:
    """What one event did."""

    matched: bool
    """It named a delivery or an address of a known organization."""
    new: bool = False
    """It had not been applied before (False: a repeat, nothing changed)."""
    email: str | None = None
    delivery_id: int | None = None
    campaign_id: int | None = None
    suppressed: bool = False
    paused: str | None = None
    """Why the campaign paused because of this event, if it did."""


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        complaint_rate=settings.complaint_pause_rate,
        hard_bounce_rate=settings.bounce_pause_rate,
        minimum_sent=settings.feedback_minimum_sent,
    )


async def _target(
    connection: AsyncConnection, event: FeedbackEvent
) -> tuple[int, str, store.DeliveryTarget | None] | None:
    """(organization id, address, delivery) the event is about; None when nothing is known.

    A delivery of another organization than the one the event came for (a webhook's URL)
    is not touched: the event then counts for the address in its own organization."""
    if event.delivery_id is not None:
        delivery = await store.delivery_target(connection, event.delivery_id)
        if delivery is not None and event.organization_id in (None, delivery.organization_id):
            return delivery.organization_id, delivery.email, delivery
    if event.organization_id is None or not event.email:
        return None
    try:
        return event.organization_id, normalise(event.email), None
    except InvalidAddress:
        return None


async def apply_event(services: Services, event: FeedbackEvent) -> Applied:
    """Apply one bounce or complaint (see the module docstring)."""
    event = event.storable()
    halted: int | None = None
    async with services.database.transaction() as connection:
        found = await _target(connection, event)
        if found is None:
            return Applied(matched=False)
        organization_id, email, delivery = found
        now = utcnow()
        new = await store.record_event(
            connection,
            organization_id=organization_id,
            source=event.source.value,
            event_id=event.event_id,
            kind=event.kind.value,
            email=email,
            delivery_id=delivery.delivery_id if delivery else None,
            campaign_id=delivery.campaign_id if delivery else None,
            detail=event.detail,
            now=now,
        )
        campaign_id = delivery.campaign_id if delivery else None
        if not new:
            return Applied(matched=True, email=email, campaign_id=campaign_id)
        if delivery is not None and await _first_for_delivery(connection, event, delivery):
            await store.count_event(connection, delivery.campaign_id, COUNTER[event.kind])
        suppressed = await _suppress(services, connection, event, organization_id, email, now)
        await _record_webhook_event(connection, event, organization_id, email, delivery, now)
        await audit.record(
            connection,
            actor=f"feedback:{event.source.value}",
            action=f"feedback.{event.kind.value}",
            organization_id=organization_id,
            target=str(campaign_id) if campaign_id is not None else None,
            detail={"email": email, "event": event.event_id, "suppressed": suppressed}
            | ({"delivery": delivery.delivery_id} if delivery else {})
            | ({"detail": event.detail} if event.detail else {}),
        )
        paused = None
        if campaign_id is not None and event.kind is not FeedbackKind.SOFT_BOUNCE:
            paused = await _pause_if_over(services, connection, campaign_id, organization_id)
            halted = campaign_id if paused else None
    if halted is not None:
        await services.wakeups.halt(halted)
        log_event(
            logger, "campaign paused", level=logging.WARNING, campaign_id=halted, reason=paused
        )
    return Applied(
        matched=True,
        new=True,
        email=email,
        delivery_id=delivery.delivery_id if delivery else None,
        campaign_id=campaign_id,
        suppressed=suppressed,
        paused=paused,
    )


WEBHOOK_TYPES = {FeedbackKind.HARD_BOUNCE: "bounced", FeedbackKind.COMPLAINT: "complained"}
"""The webhook event each kind is reported as (a soft bounce is none: nothing changed yet)."""


async def _record_webhook_event(
    connection: AsyncConnection,
    event: FeedbackEvent,
    organization_id: int,
    email: str,
    delivery: store.DeliveryTarget | None,
    now: datetime,
) -> None:
    """``bounced`` or ``complained`` to the organization's webhooks, in this transaction."""
    kind = WEBHOOK_TYPES.get(event.kind)
    if kind is None:
        return
    data: dict[str, object] = {
        "campaignId": delivery.campaign_id if delivery else None,
        "deliveryId": delivery.delivery_id if delivery else None,
        "email": email,
    }
    if kind == "bounced":
        data["reason"] = event.detail
    await outbox.record_event(connection, organization_id, kind, data, now=now)


async def _first_for_delivery(
    connection: AsyncConnection, event: FeedbackEvent, delivery: store.DeliveryTarget
) -> bool:
    """Apply the event's outcome to the delivery; whether this is the first event of its
    kind for it (the one the campaign's counters count: a DSN and a provider's webhook
    for one message are one bounce)."""
    if event.kind in OUTCOME:
        status, sources = OUTCOME[event.kind]
        return await store.change_delivery_status(
            connection,
            delivery.delivery_id,
            status=status.value,
            from_statuses=[source.value for source in sources],
        )
    return await store.events_of_delivery(connection, delivery.delivery_id, event.kind.value) == 1


async def _suppress(
    services: Services,
    connection: AsyncConnection,
    event: FeedbackEvent,
    organization_id: int,
    email: str,
    now: datetime,
) -> bool:
    """Suppress the address when the event calls for it; True when it did (newly)."""
    reason, detail = "bounced", f"hard bounce ({event.source.value})"
    if event.kind is FeedbackKind.COMPLAINT:
        reason, detail = "complained", f"complaint ({event.source.value})"
    elif event.kind is FeedbackKind.SOFT_BOUNCE:
        count = await store.soft_bounces_of(
            connection, organization_id=organization_id, email=email
        )
        if count < services.settings.soft_bounce_limit:
            return False
        detail = f"{count} soft bounces ({event.source.value})"
    added = await add_suppressions(
        connection,
        organization_id=organization_id,
        emails=[email],
        reason=reason,
        now=now,
        detail=detail,
    )
    return bool(added)


async def _pause_if_over(
    services: Services, connection: AsyncConnection, campaign_id: int, organization_id: int
) -> str | None:
    counters = await store.counters_of(connection, campaign_id)
    reason = pause_reason(
        sent=await store.sent_count(connection, campaign_id),
        hard_bounces=counters.hard_bounces,
        complaints=counters.complaints,
        limits=thresholds(services.settings),
    )
    if reason is None:
        return None
    paused = await transition(connection, campaign_id, Action.PAUSE, status_reason=reason)
    if paused is None:
        return None
    await audit.record(
        connection,
        actor="feedback",
        action="campaign.pause",
        organization_id=organization_id,
        target=str(campaign_id),
        detail={"reason": reason},
    )
    return reason


async def campaign_figures(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    counts: Mapping[str, int] | None = None,
) -> CampaignFigures:
    """What became of the campaign's messages: sent, delivered, bounced (hard and soft),
    complained, unsubscribed, with their rates (``domain.feedback.CampaignFigures``).
    ``counts``: its deliveries per status, when the caller read them already. Another
    organization's campaign is not found."""
    async with services.database.connection() as connection:
        if await get_campaign(connection, campaign_id, organization_id=principal.scope) is None:
            raise NotFound(f"campaign {campaign_id} not found")
        return await store.figures_of(connection, campaign_id, counts)
