"""Fan-out: a campaign's audience (its lists and segments) joins its recipients, and they are
checked once, in a few set-based statements: those in cooldown, suppressed, duplicated or
invalid are skipped, the others stay queued.

And the read-only preview that applies the same rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.cooldown import cooldown_reason, shown_name, suppressed_reason
from campaignd.domain.deferral import Deferral
from campaignd.domain.frequency import Rule
from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus, SkipCode
from campaignd.store.campaign_audience import (
    REPLAN_AFTER,
    add_audience,
    campaign_audience,
    recipients_and_audience,
)
from campaignd.store.deferral import settle_deferrals
from campaignd.store.dialect import allow_memory_for_joins, refresh_statistics
from campaignd.store.due_times import Timing, plan_deferred, plan_due_times
from campaignd.store.frequency import (
    Eligibility,
    Reservation,
    check_rules,
    preview_by_rules,
    reserve_by_rules,
    take_reserved,
    write_entries,
)
from campaignd.store.frequency_rules import rule_sets
from campaignd.store.ledger import GLOBAL_SCOPE, reserve_queued, scope_of
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
    """The settings: ``COOLDOWN_DAYS`` (the default rule, ``1 per days``) and
    ``COOLDOWN_SCOPE``. An organization's own frequency rules replace the default rule."""

    days: int
    scope: str

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


@dataclass(frozen=True)
class Applied:
    """The rules a campaign is held to and the category whose messages count against them
    (None: messages without a category)."""

    rules: tuple[Rule, ...]
    category: str | None

    @property
    def single_cooldown(self) -> int | None:
        """The days of a lone ``1 per D days`` rule without a category (checked on the
        ``cooldown_ledger`` alone, as the cooldown always was); None otherwise."""
        if self.category is None and len(self.rules) == 1 and self.rules[0].max == 1:
            return self.rules[0].days
        return None


async def applied_rules(
    connection: AsyncConnection,
    organization_id: int,
    category: str | None,
    *,
    settings: CooldownRules,
) -> Applied:
    sets = await rule_sets(connection, organization_id, cooldown_days=settings.days)
    return Applied(rules=sets.for_category(category), category=sets.counts_category(category))


async def fan_out(
    connection: AsyncConnection, campaign_id: int, *, rules: CooldownRules, now: datetime
) -> dict[str, int] | None:
    """Fan out a started campaign once; None when it is already fanned out (or not sending).

    The audience of the campaign's lists and segments is resolved first, into queued
    deliveries beside the explicit recipients (``store.campaign_audience``). Then only the
    skipped recipients are written: the others stay ``queued`` and become the queue through
    the campaign's ``fanned_out_at`` (see ``store.waiting``).

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
        .returning(*campaigns.c)
    )
    campaign = (await connection.execute(claim)).mappings().first()
    if campaign is None:
        return None
    organization_id, name = int(campaign["organization_id"]), str(campaign["name"])
    await allow_memory_for_joins(connection, JOIN_MEMORY_MEGABYTES)
    added = await add_audience(connection, campaign_id, organization_id, now=now)
    await _skip_suppressed(connection, campaign_id, organization_id)
    applied = await applied_rules(connection, organization_id, campaign["category"], settings=rules)
    scope = scope_of(rules.scope, organization_id)
    timing = Timing.of(dict(campaign))
    deferral = Deferral.of(dict(campaign))
    days = applied.single_cooldown
    reservation = Reservation(
        campaign_id=campaign_id,
        campaign_name=name,
        organization_id=organization_id,
        category=applied.category,
        scope=scope,
        now=now,
    )
    deferring = deferral is not None and bool(applied.rules)
    if deferral is not None and deferring:
        await _reserve_deferring(
            connection, reservation, applied.rules, timing=timing, deadline=deferral.until
        )
    elif days is not None:
        cooldown = CooldownRules(days=days, scope=rules.scope)
        may_be_held = await reserve_queued(
            connection,
            campaign_id=campaign_id,
            campaign_name=name,
            scope=scope,
            now=now,
            cutoff=cooldown.cutoff(now),
        )
        if may_be_held:
            await _skip_in_cooldown(
                connection, campaign_id, scope, organization_id, rules=cooldown, now=now
            )
        await write_entries(connection, replace(reservation, category=None))
    elif applied.rules:
        await reserve_by_rules(connection, reservation, applied.rules)
    if timing is not None and not deferring:  # each delivery gets its due instant
        await plan_due_times(connection, campaign_id, timing, now=now)
    if await _needs_statistics(connection, campaign_id, added=added):
        # the claims that follow are planned with statistics that know these rows
        await refresh_statistics(connection, deliveries)
    return await refresh_run_counts(
        connection, campaign_id, fanout_seconds=time.perf_counter() - started
    )


async def _needs_statistics(connection: AsyncConnection, campaign_id: int, *, added: int) -> bool:
    """PostgreSQL: whether the campaign holds many rows the planner's statistics may not
    know. An audience that large was sampled when it was added (``add_audience``)."""
    if connection.dialect.name != "postgresql" or added >= REPLAN_AFTER:
        return False
    return await _holds_at_least(connection, campaign_id, REPLAN_AFTER)


async def _holds_at_least(connection: AsyncConnection, campaign_id: int, count: int) -> bool:
    """Whether the campaign has ``count`` deliveries or more (reads at most that many keys)."""
    statement = (
        select(deliveries.c.id)
        .where(deliveries.c.campaign_id == campaign_id)
        .offset(count - 1)
        .limit(1)
    )
    return (await connection.execute(statement)).first() is not None


async def _reserve_deferring(
    connection: AsyncConnection,
    reservation: Reservation,
    rules: tuple[Rule, ...],
    *,
    timing: Timing | None,
    deadline: datetime,
) -> None:
    """The rules of a campaign that defers capped recipients (``domain.deferral``): the
    capped ones are deferred, given their wave and window, skipped when that is after the
    deadline; then the queued ones are reserved, a deferred one counted from its instant."""
    campaign_id, now = reservation.campaign_id, reservation.now
    await check_rules(connection, reservation, rules, deferring=True)
    if timing is not None:
        await plan_due_times(connection, campaign_id, timing, now=now, keep_deferred=True)
        await plan_deferred(connection, campaign_id, timing, now=now)
    await settle_deferrals(connection, campaign_id, deadline=deadline)
    await take_reserved(connection, reservation, deferred=True)


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
    """Read-only eligibility: (total, ineligible, reasons[:limit]) by the fan-out's rules
    (``eligibility`` also counts the deferred recipients)."""
    found = await eligibility(connection, campaign, rules=rules, now=now, limit=limit)
    return found.total, found.ineligible, found.reasons


async def eligibility(
    connection: AsyncConnection,
    campaign: Row,
    *,
    rules: CooldownRules,
    now: datetime,
    limit: int = 1000,
) -> Eligibility:
    """Read-only eligibility by the fan-out's rules: recipients, ineligible, deferred (a
    campaign that defers capped recipients) and the reasons of a sample of both.

    Until the campaign fans out, its audience (lists and segments, as they are ``now``)
    counts beside its recipients, each address once; after, its deliveries are its audience.
    The figures come from one counting statement; only the reasons' sample is read.
    """
    campaign_id, organization_id = int(campaign["id"]), int(campaign["organization_id"])
    audience = None
    if campaign["fanned_out_at"] is None:
        audience = await campaign_audience(connection, campaign_id, organization_id, now=now)
    candidates = recipients_and_audience(campaign_id, audience)
    scope = scope_of(rules.scope, organization_id)
    applied = await applied_rules(
        connection, organization_id, campaign.get("category"), settings=rules
    )
    deferral = Deferral.of(campaign)
    days = applied.single_cooldown
    if (days is None or deferral is not None) and applied.rules:
        own_suppressions = (
            select(suppressions.c.email, suppressions.c.reason)
            .where(suppressions.c.organization_id == organization_id)
            .subquery("suppressed")
        )
        return await preview_by_rules(
            connection,
            candidates,
            suppressed=own_suppressions,
            rules=applied.rules,
            scope=scope,
            organization_id=organization_id,
            category=applied.category,
            campaign_id=campaign_id,
            now=now,
            limit=limit,
            deadline=None if deferral is None else deferral.until,
        )
    rules = CooldownRules(days=days or 0, scope=rules.scope)
    holder = campaigns.alias("holder")
    cooldown_join = and_(
        cooldown_ledger.c.scope == scope,
        cooldown_ledger.c.email == candidates.c.email,
        cooldown_ledger.c.campaign_id.is_distinct_from(campaign_id),
        cooldown_ledger.c.contacted_at >= rules.cutoff(now),
        literal(rules.days > 0),
    )
    checked = candidates.outerjoin(
        suppressions,
        and_(
            suppressions.c.organization_id == organization_id,
            suppressions.c.email == candidates.c.email,
        ),
    ).outerjoin(cooldown_ledger, cooldown_join)
    ineligible = (suppressions.c.email.is_not(None)) | (cooldown_ledger.c.email.is_not(None))
    counting = select(func.count(), func.count(case((ineligible, 1)))).select_from(checked)
    total, ineligible_count = (await connection.execute(counting)).one()
    sample = (
        select(
            candidates.c.email,
            suppressions.c.reason.label("suppression"),
            cooldown_ledger.c.campaign_name,
            cooldown_ledger.c.contacted_at,
            holder.c.status.label("holder_status"),
            holder.c.organization_id.label("holder_organization_id"),
        )
        .select_from(checked.outerjoin(holder, holder.c.id == cooldown_ledger.c.campaign_id))
        .where(ineligible)
        .order_by(candidates.c.part, candidates.c.position)
        .limit(limit)
    )
    reasons = [
        _reason(row, scope=scope, organization_id=organization_id, rules=rules, now=now)
        for row in await connection.execute(sample)
    ]
    return Eligibility(int(total), int(ineligible_count), reasons)


def _reason(
    row: Any, *, scope: int, organization_id: int, rules: CooldownRules, now: datetime
) -> dict[str, str]:
    """One line of the preview's reasons: why this address would be skipped."""
    if row.suppression is not None:
        return {
            "email": row.email,
            "code": SkipCode.SUPPRESSED.value,
            "reason": suppressed_reason(row.suppression),
        }
    return {
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
