"""Pruning: deleting the per-recipient rows of campaigns finished long ago."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaignd.actions.errors import Invalid
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.store import retention
from campaignd.store.columns import utcnow


@dataclass(frozen=True)
class PrunePlan:
    """What a prune would delete: the rows of ``campaigns``, finished before ``cutoff``."""

    days: int
    cutoff: datetime
    campaigns: list[retention.PrunableCampaign]

    @property
    def rows(self) -> int:
        return sum(campaign.rows for campaign in self.campaigns)


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
    """The campaigns (sent, failed or cancelled) finished more than the days ago; read only."""
    principal.require_platform_admin()
    days = retention_days(services, older_than_days)
    cutoff = utcnow() - timedelta(days=days)
    async with services.database.connection() as connection:
        found = await retention.prunable(connection, finished_before=cutoff)
    return PrunePlan(days=days, cutoff=cutoff, campaigns=found)


async def prune(
    services: Services,
    principal: Principal,
    plan: PrunePlan,
    *,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Delete the rows ``plan`` found; returns how many went."""
    principal.require_platform_admin()
    return await retention.prune(
        services.database, plan.campaigns, actor=principal.actor, now=utcnow(), on_rows=on_rows
    )
