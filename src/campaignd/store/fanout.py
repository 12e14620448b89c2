"""Fan-out: a campaign's recipients are checked once, in a few set-based statements: those
in cooldown, suppressed, duplicated or invalid are skipped, the others stay queued.

And the read-only preview that applies the same rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.cooldown import cooldown_reason, shown_name, suppressed_reason
from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus, SkipCode
from campaignd.store.dialect import allow_memory_for_joins
from campaignd.store.ledger import GLOBAL_SCOPE, reserve_queued, scope_of
from campaignd.store.recipients import count_recipients
from campaignd.store.rows import Row
from campaignd.store.runs import refresh_run_counts
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, suppressions

QUEUED = DeliveryStatus.QUEUED.value
JOIN_MEMORY_MEGABYTES = 64  # per hash table; a 1M audience's join fits in one batch
FINISHED_CAMPAIGNS = (
    CampaignStatus.SENT.value,
    CampaignStatus.FAILED.value,
    CampaignStatus.CANCELLED.value,
)


@dataclass(frozen=True)
class CooldownRules:
    days: int
    scope: str

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


async def fan_out(
    connection: AsyncConnection, campaign_id: int, *, rules: CooldownRules, now: datetime
) -> dict[str, int] | None:
    """Fan out a started campaign once; None when it is already fanned out (or not sending).

    Only the skipped recipients are written: the others stay ``queued`` and become the
    queue through the campaign's ``fanned_out_at`` (see ``store.waiting``).

    Must run inside a writer transaction: the first statement claims the fan-out, so a
    second fan-out of the same campaign waits for the first and then does nothing.
    """
    started = time.perf_counter()
    claim = (
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status.in_([CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value]),
            campaigns.c.fanned_out_at.is_(None),
        )
        .values(fanned_out_at=now)
        .returning(campaigns.c.organization_id, campaigns.c.name)
    )
    campaign = (await connection.execute(claim)).mappings().first()
    if campaign is None:
        return None
    organization_id, name = int(campaign["organization_id"]), str(campaign["name"])
    await allow_memory_for_joins(connection, JOIN_MEMORY_MEGABYTES)
    await _skip_suppressed(connection, campaign_id, organization_id)
    if rules.days > 0:
        scope = scope_of(rules.scope, organization_id)
        await reserve_queued(
            connection,
            campaign_id=campaign_id,
            campaign_name=name,
            scope=scope,
            now=now,
            cutoff=rules.cutoff(now),
        )
        await _skip_in_cooldown(
            connection, campaign_id, scope, organization_id, rules=rules, now=now
        )
    return await refresh_run_counts(
        connection, campaign_id, fanout_seconds=time.perf_counter() - started
    )


async def _skip_suppressed(
    connection: AsyncConnection, campaign_id: int, organization_id: int
) -> None:
    statement = (
        update(deliveries)
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == QUEUED,
            suppressions.c.organization_id == organization_id,
            suppressions.c.email == deliveries.c.email,
        )
        .values(
            status=DeliveryStatus.SKIPPED.value,
            code=SkipCode.SUPPRESSED.value,
            reason=literal("on the suppression list (") + suppressions.c.reason + literal(")"),
        )
    )
    await connection.execute(statement)


async def _skip_in_cooldown(
    connection: AsyncConnection,
    campaign_id: int,
    scope: int,
    organization_id: int,
    *,
    rules: CooldownRules,
    now: datetime,
) -> None:
    """Pending addresses whose ledger entry another campaign holds: skip them with its reason.

    The reason gives the date and names the holding campaign when it is the organization's
    own (``holder_name``): the distinct holders (a handful) are read first, then one
    statement skips every held address with its holder's reason.
    """
    in_ledger = and_(
        cooldown_ledger.c.scope == scope,
        cooldown_ledger.c.email == deliveries.c.email,
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == QUEUED,
        cooldown_ledger.c.campaign_id.is_distinct_from(campaign_id),
    )
    holders = (
        select(
            cooldown_ledger.c.campaign_id,
            cooldown_ledger.c.campaign_name,
            cooldown_ledger.c.contacted_at,
            campaigns.c.status,
            campaigns.c.organization_id,
        )
        .select_from(
            cooldown_ledger.join(deliveries, in_ledger).outerjoin(
                campaigns, campaigns.c.id == cooldown_ledger.c.campaign_id
            )
        )
        .distinct()
    )
    reasons = [
        (
            and_(
                cooldown_ledger.c.campaign_id.is_not_distinct_from(holder_id),
                cooldown_ledger.c.contacted_at == contacted_at,
            ),
            literal(
                cooldown_reason(
                    campaign_name=holder_name(
                        name, holder_organization_id, scope=scope, organization_id=organization_id
                    ),
                    contacted_at=contacted_at,
                    cooldown_days=rules.days,
                    now=now,
                    sent=_held_after_sending(holder_status),
                )
            ),
        )
        for holder_id, name, contacted_at, holder_status, holder_organization_id in (
            await connection.execute(holders)
        ).all()
    ]
    if not reasons:
        return
    await connection.execute(
        update(deliveries)
        .where(in_ledger)
        .values(
            status=DeliveryStatus.SKIPPED.value,
            code=SkipCode.COOLDOWN.value,
            reason=case(*reasons, else_=literal("in the cooldown of another campaign")),
        )
    )


def holder_name(
    name: str | None, holder_organization_id: int | None, *, scope: int, organization_id: int
) -> str | None:
    """The name a reason may give for the campaign holding an address, or None.

    In an organization's own scope every entry is that organization's; in the global scope
    an entry may be another organization's campaign (or one deleted since, whose
    organization nobody knows), and its name is never shown to this organization.
    """
    if scope != GLOBAL_SCOPE:
        holder_organization_id = scope
    return shown_name(
        name, holder_organization_id=holder_organization_id, organization_id=organization_id
    )


def _held_after_sending(holder_status: str | None) -> bool:
    """The holder finished; an entry whose campaign no longer exists counts as received."""
    return holder_status is None or holder_status in FINISHED_CAMPAIGNS


async def preview(
    connection: AsyncConnection,
    campaign: Row,
    *,
    rules: CooldownRules,
    now: datetime,
    limit: int = 1000,
) -> tuple[int, int, list[dict[str, str]]]:
    """Read-only eligibility: (total, ineligible, reasons[:limit]) by the fan-out's rules."""
    campaign_id, organization_id = int(campaign["id"]), int(campaign["organization_id"])
    scope = scope_of(rules.scope, organization_id)
    holder = campaigns.alias("holder")
    cooldown_join = and_(
        cooldown_ledger.c.scope == scope,
        cooldown_ledger.c.email == deliveries.c.email,
        cooldown_ledger.c.campaign_id != campaign_id,
        cooldown_ledger.c.contacted_at >= rules.cutoff(now),
        literal(rules.days > 0),
    )
    statement = (
        select(
            deliveries.c.email,
            suppressions.c.reason.label("suppression"),
            cooldown_ledger.c.campaign_name,
            cooldown_ledger.c.contacted_at,
            holder.c.status.label("holder_status"),
            holder.c.organization_id.label("holder_organization_id"),
        )
        .select_from(
            deliveries.outerjoin(
                suppressions,
                and_(
                    suppressions.c.organization_id == organization_id,
                    suppressions.c.email == deliveries.c.email,
                ),
            )
            .outerjoin(cooldown_ledger, cooldown_join)
            .outerjoin(holder, holder.c.id == cooldown_ledger.c.campaign_id)
        )
        .where(
            deliveries.c.campaign_id == campaign_id,
            (suppressions.c.email.is_not(None)) | (cooldown_ledger.c.email.is_not(None)),
        )
        .order_by(deliveries.c.id)
    )
    total = await count_recipients(connection, campaign_id)
    ineligible = 0
    reasons: list[dict[str, str]] = []
    for row in await connection.execute(statement):
        ineligible += 1
        if len(reasons) >= limit:
            continue
        if row.suppression is not None:
            reasons.append(
                {
                    "email": row.email,
                    "code": SkipCode.SUPPRESSED.value,
                    "reason": suppressed_reason(row.suppression),
                }
            )
        else:
            reasons.append(
                {
                    "email": row.email,
                    "code": SkipCode.COOLDOWN.value,
                    "reason": cooldown_reason(
                        campaign_name=holder_name(
                            row.campaign_name,
                            row.holder_organization_id,
                            scope=scope,
                            organization_id=organization_id,
                        ),
                        contacted_at=row.contacted_at,
                        cooldown_days=rules.days,
                        now=now,
                        sent=_held_after_sending(row.holder_status),
                    ),
                }
            )
    return total, ineligible, reasons
