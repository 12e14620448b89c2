"""What the recorder writes for a group of outcomes: the outcomes, then campaigns that keep
failing pause themselves (and every worker hears of it), and finished ones finish."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.delivery.builders import Builders
from campaignd.delivery.delivery_events import record_delivery_events
from campaignd.delivery.finishing import finish_if_done
from campaignd.delivery.hands import Hands
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow
from campaignd.store.ledger import scope_of
from campaignd.store.outbox import Subscriptions
from campaignd.wakeups import Wakeups

logger = logging.getLogger("campaignd.delivery")


class OutcomeWriter:
    def __init__(
        self, hands: Hands, settings: Settings, *, builders: Builders, wakeups: Wakeups
    ) -> None:
        self.hands = hands
        self.settings = settings
        self.builders = builders
        self.wakeups = wakeups
        self._announcing: set[asyncio.Task[None]] = set()
        self.subscriptions = Subscriptions()

    async def __call__(
        self, connection: AsyncConnection, outcomes: Sequence[queue.Outcome], careful: bool
    ) -> None:
        now = utcnow()
        touched = Counter(outcome.campaign_id for outcome in outcomes)
        organizations = {
            campaign_id: self.hands.organizations[campaign_id] for campaign_id in touched
        }
        scopes = {
            campaign_id: scope_of(self.settings.cooldown_scope, organization_id)
            for campaign_id, organization_id in organizations.items()
        }
        written = await queue.record_outcomes(
            connection,
            outcomes,
            owner=self.hands.owner,
            now=now,
            scopes=scopes,
            organizations=organizations,
            careful=careful,
        )
        if len(written) < len(outcomes):
            log_event(
                logger,
                "outcomes discarded: their leases were taken back",
                level=logging.WARNING,
                count=len(outcomes) - len(written),
                delivery_ids=sorted(
                    {outcome.delivery_id for outcome in outcomes}
                    - {outcome.delivery_id for outcome in written}
                ),
            )
        await record_delivery_events(
            connection,
            written,
            organizations=organizations,
            subscriptions=self.subscriptions,
            now=now,
        )
        await self._pause_failing(connection, written)
        for campaign_id, count in touched.items():
            if self.hands.leases.in_hand(campaign_id) <= count:
                await finish_if_done(connection, campaign_id, now=now, builders=self.builders)
        for outcome in written:
            if outcome.suppress_as:
                log_event(
                    logger,
                    "address suppressed",
                    campaign_id=outcome.campaign_id,
                    reason=outcome.suppress_as,
                    error=outcome.error,
                )

    async def _pause_failing(
        self, connection: AsyncConnection, outcomes: Sequence[queue.Outcome]
    ) -> None:
        last_errors = {
            outcome.campaign_id: outcome.error
            for outcome in outcomes
            if outcome.status is not DeliveryStatus.SENT
        }
        for campaign_id in sorted(last_errors):
            paused = await queue.pause_if_failing(
                connection,
                campaign_id,
                max_errors=self.settings.max_send_errors,
                now=utcnow(),
                last_error=last_errors[campaign_id],
            )
            if paused is None:
                continue
            self.hands.campaigns.halt(campaign_id)
            task = asyncio.create_task(self.wakeups.halt(campaign_id))
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)
            log_event(
                logger,
                "campaign paused",
                level=logging.WARNING,
                campaign_id=campaign_id,
                reason=paused["status_reason"],
            )
