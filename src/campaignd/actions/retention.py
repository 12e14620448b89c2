"""Pruning: deleting the per-recipient rows of campaigns finished long ago, and the webhook
messages delivered or given up long ago."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaignd.actions.errors import Invalid
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.store import retention, webhooks
from campaignd.store.columns import utcnow
from campaignd.store.retention import Pruned as Pruned


@dataclass(frozen=True)
class PrunePlan:
    """What a prune would delete: the rows of ``campaigns``, finished before ``cutoff``, and
    the webhook messages delivered or given up before it, with their attempts."""

    days: int
    cutoff: datetime
    campaigns: list[retention.PrunableCampaign]
    webhook_messages: int = 0
    webhook_attempts: int = 0

    @property
    def rows(self) -> int:
        """Delivery rows."""
        return sum(campaign.rows for campaign in self.campaigns)

    @property
    def events(self) -> int:
        """Opens and clicks."""
        return sum(campaign.events for campaign in self.campaigns)

    @property
    def total(self) -> int:
        """Every row that would go (what the progress bar counts)."""
        return self.rows + self.events + self.webhook_messages + self.webhook_attempts

    @property
    def empty(self) -> bool:
        return not self.campaigns and not self.webhook_messages


def retention_days(services: Services, older_than_days: int | None) -> int:
    """The age asked for, else ``CAMPAIGND_RETENTION_DAYS``; neither is an error."""
    days = older_than_days if older_than_days is not None else services.settings.retention_days
    if days is None:
        raise Invalid(
            "--older-than: say how old (like 180d), or set CAMPAIGND_RETENTION_DAYS;"
            " by default nothing is ever pruned"
        )
    if days < 1:
        raise Invalid(f"--older-than: {days} days; at least 1 day")
    return days


async def plan_prune(
    services: Services, principal: Principal, *, older_than_days: int | None = None
) -> PrunePlan:
    """The campaigns (sent, failed or cancelled) finished more than the days ago, and the
    webhook messages delivered or given up as long ago; read only."""
    principal.require_platform_admin()
    days = retention_days(services, older_than_days)
    cutoff = utcnow() - timedelta(days=days)
    async with services.database.connection() as connection:
        found = await retention.prunable(connection, finished_before=cutoff)
        messages, attempts = await webhooks.count_finished(connection, before=cutoff)
    return PrunePlan(
        days=days,
        cutoff=cutoff,
        campaigns=found,
        webhook_messages=messages,
        webhook_attempts=attempts,
    )


async def prune(
    services: Services,
    principal: Principal,
    plan: PrunePlan,
    *,
    on_rows: Callable[[int], None] | None = None,
) -> Pruned:
    """Delete what ``plan`` found (webhook messages finished before its cutoff, counted
    again as they go); returns how much went."""
    principal.require_platform_admin()
    pruned = await retention.prune(
        services.database, plan.campaigns, actor=principal.actor, now=utcnow(), on_rows=on_rows
    )
    return pruned + await retention.prune_webhook_messages(
        services.database, before=plan.cutoff, actor=principal.actor, on_rows=on_rows
    )
