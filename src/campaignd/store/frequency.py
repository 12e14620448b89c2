"""Reservation under frequency rules: set-based, atomic across concurrent fan-outs.

A rule ``at most N per D days`` caps a recipient when ``N`` ledger entries (``ledger_entries``,
one per message) that count against it are younger than ``D`` days. Which entries count:

- a campaign without a category: the entries without a category in its ledger scope (the
  scope of ``COOLDOWN_SCOPE``: every organization's with ``global``);
- a campaign of a category: the entries of that category of its own organization.

Atomicity. SQLite: the fan-out is one writer transaction (``BEGIN IMMEDIATE``), so fan-outs
run one after the other. PostgreSQL: before counting, a fan-out locks what a concurrent
fan-out would write to:

- without a category, each recipient's ``cooldown_ledger`` row (the latest message without a
  category), inserted or locked in address order by one upsert, as the cooldown always did;
  a second fan-out of an overlapping audience waits there until the first commits, and its
  next statement (a new snapshot, READ COMMITTED) counts the first one's entries;
- with a category, a transaction advisory lock on (scope, organization, category): fan-outs
  of one category run one after the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.cooldown import shown_name
from campaignd.domain.deferral import DEFERRED, deferred_reason, too_late_reason
from campaignd.domain.frequency import Rule, capped_cause, capped_reason
from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus, SkipCode
from campaignd.store.columns import UtcDateTime
from campaignd.store.dialect import upsert
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, ledger_entries

QUEUED = DeliveryStatus.QUEUED.value
CAPPED = Table(
    "frequency_capped",
    MetaData(),
    Column("email", String(320), primary_key=True),
    Column("campaign_id", ledger_entries.c.campaign_id.type),
    Column("campaign_name", String(200)),
    Column("contacted_at", ledger_entries.c.contacted_at.type),
    Column("organization_id", ledger_entries.c.organization_id.type),
    Column("count", Integer),
)
"""A temporary table (per connection, emptied before each rule): the addresses one rule
caps, so that the skipping ``UPDATE`` joins a keyed table instead of planning the window
query against ``deliveries`` row by row."""
CAPPED_COLUMNS = """(email VARCHAR(320) PRIMARY KEY, campaign_id BIGINT, campaign_name VARCHAR(200),
    contacted_at {time}, organization_id BIGINT, count INTEGER)"""
GLOBAL_SCOPE = 0
TIME = UtcDateTime()
FINISHED = (
    CampaignStatus.SENT.value,
    CampaignStatus.FAILED.value,
    CampaignStatus.CANCELLED.value,
)


@dataclass(frozen=True)
class Reservation:
    """Whose reservation a fan-out makes: the campaign, its organization and category (None:
    without one), the ledger scope it counts in (``ledger.scope_of``), and the instant."""

    campaign_id: int
    campaign_name: str
    organization_id: int
    category: str | None
    scope: int
    now: datetime


def queued_of(campaign_id: int) -> Select[tuple[str]]:
    """The campaign's queued addresses (an alias of ``deliveries``, usable inside an
    ``UPDATE deliveries``)."""
    people = deliveries.alias("people")
    return select(people.c.email).where(
        people.c.campaign_id == campaign_id, people.c.status == QUEUED
    )


def counted_entries(
    *, scope: int, organization_id: int, category: str | None, campaign_id: int
) -> list[ColumnElement[bool]]:
    """The ledger entries that count against the rules of a campaign of ``category``."""
    conditions: list[ColumnElement[bool]] = [
        ledger_entries.c.scope == scope,
        ledger_entries.c.campaign_id != campaign_id,
    ]
    if category is None:
        conditions.append(ledger_entries.c.category.is_(None))
    else:
        conditions += [
            ledger_entries.c.category == category,
            ledger_entries.c.organization_id == organization_id,
        ]
    return conditions


def capped_by(
    rule: Rule,
    people: FromClause,
    *,
    scope: int,
    organization_id: int,
    category: str | None,
    campaign_id: int,
    now: datetime,
    name: str = "capped",
) -> Subquery:
    """The addresses of ``people`` (a column ``email``, each address once) that ``rule``
    caps, each with the entry that must age out before it frees a slot (the ``max``-th most
    recent) and the number of entries in the window."""
    cutoff = now - timedelta(days=rule.days)
    ranked = (
        select(
            ledger_entries.c.email,
            ledger_entries.c.campaign_id,
            ledger_entries.c.campaign_name,
            ledger_entries.c.contacted_at,
            ledger_entries.c.organization_id,
            func.row_number()
            .over(
                partition_by=ledger_entries.c.email,
                order_by=(
                    ledger_entries.c.contacted_at.desc(),
                    ledger_entries.c.campaign_id.desc(),
                ),
            )
            .label("rank"),
            func.count().over(partition_by=ledger_entries.c.email).label("count"),
        )
        .select_from(ledger_entries.join(people, people.c.email == ledger_entries.c.email))
        .where(
            ledger_entries.c.contacted_at >= cutoff,
            *counted_entries(
                scope=scope,
                organization_id=organization_id,
                category=category,
                campaign_id=campaign_id,
            ),
        )
        .subquery(f"{name}_ranked")
    )
    return (
        select(
            ranked.c.email,
            ranked.c.campaign_id,
            ranked.c.campaign_name,
            ranked.c.contacted_at,
            ranked.c.organization_id,
            ranked.c.count,
        )
        .where(ranked.c.rank == rule.max)
        .subquery(name)
    )


def held_after_sending(holder_status: str | None) -> bool:
    """The holder finished; an entry whose campaign no longer exists counts as received."""
    return holder_status is None or holder_status in FINISHED


def shown_holder(
    name: str | None, holder_organization_id: int | None, *, scope: int, organization_id: int
) -> str | None:
    """The holder's name as the organization may see it (see ``fanout.holder_name``)."""
    if scope != GLOBAL_SCOPE:
        holder_organization_id = scope
    return shown_name(
        name, holder_organization_id=holder_organization_id, organization_id=organization_id
    )


async def reserve_by_rules(
    connection: AsyncConnection, reservation: Reservation, rules: tuple[Rule, ...]
) -> None:
    """Skip the queued recipients some rule caps (with its reason), reserve the others."""
    await check_rules(connection, reservation, rules)
    await take_reserved(connection, reservation)


async def check_rules(
    connection: AsyncConnection,
    reservation: Reservation,
    rules: tuple[Rule, ...],
    *,
    deferring: bool = False,
) -> None:
    """Lock what a concurrent fan-out would write to, then skip the queued recipients some
    rule caps; ``deferring``: defer them instead (``store.deferral``), each to the latest
    instant a rule that caps them frees a slot."""
    if reservation.category is None:
        await _hold_people(connection, reservation)
    else:
        await _lock_category(
            connection,
            scope=reservation.scope,
            organization_id=reservation.organization_id,
            category=reservation.category,
        )
    check = _defer_capped if deferring else _skip_capped
    for rule in rules:
        await check(connection, rule, reservation)


async def take_reserved(
    connection: AsyncConnection, reservation: Reservation, *, deferred: bool = False
) -> None:
    """Reserve the recipients left queued: their ``cooldown_ledger`` rows (without a
    category) and their ledger entries, counted from now on, or with ``deferred`` from the
    instant a deferred delivery is due."""
    if reservation.category is None:
        await _take_people(connection, reservation, deferred=deferred)
    await write_entries(connection, reservation, deferred=deferred)


async def write_entries(
    connection: AsyncConnection, reservation: Reservation, *, deferred: bool = False
) -> None:
    """One ledger entry per queued recipient: this campaign's message, counted from now on
    (with ``deferred``: a deferred delivery's from its due instant).

    A plain ``INSERT``: only a campaign's fan-out writes entries with its id, and a campaign
    fans out once in its life (``fan_out`` claims it; no action leads a sending campaign
    back to where it could start again), so none of this campaign's entries exists yet and
    each queued address is one row. Checking each row for a conflict cost a third of it."""
    campaign_id, scope = reservation.campaign_id, reservation.scope
    contacted_at: ColumnElement[datetime] = literal(
        reservation.now, ledger_entries.c.contacted_at.type
    )
    if deferred:
        contacted_at = case(
            (deliveries.c.code == DEFERRED, deliveries.c.due_at), else_=contacted_at
        )
    source = select(
        literal(scope, ledger_entries.c.scope.type).label("scope"),
        deliveries.c.email,
        literal(campaign_id, ledger_entries.c.campaign_id.type).label("campaign_id"),
        literal(reservation.organization_id, ledger_entries.c.organization_id.type).label(
            "organization_id"
        ),
        literal(reservation.category, ledger_entries.c.category.type).label("category"),
        literal(reservation.campaign_name, ledger_entries.c.campaign_name.type).label(
            "campaign_name"
        ),
        contacted_at.label("contacted_at"),
    ).where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == QUEUED)
    source = source.order_by(deliveries.c.email)  # the key's order: cheaper index inserts
    statement = insert(ledger_entries).from_select(
        [
            "scope",
            "email",
            "campaign_id",
            "organization_id",
            "category",
            "campaign_name",
            "contacted_at",
        ],
        source,
    )
    await connection.execute(statement)


async def _hold_people(connection: AsyncConnection, reservation: Reservation) -> None:
    """Lock every queued recipient's ``cooldown_ledger`` row, in address order; a recipient
    without one gets one held by this campaign (nothing without a category counts against
    them: every such message has its row)."""
    campaign_id, campaign_name = reservation.campaign_id, reservation.campaign_name
    scope, now = reservation.scope, reservation.now
    source = (
        select(
            literal(scope, cooldown_ledger.c.scope.type).label("scope"),
            deliveries.c.email,
            literal(campaign_id, cooldown_ledger.c.campaign_id.type).label("campaign_id"),
            literal(campaign_name, cooldown_ledger.c.campaign_name.type).label("campaign_name"),
            literal(now, cooldown_ledger.c.contacted_at.type).label("contacted_at"),
        )
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == QUEUED)
        .order_by(deliveries.c.email)
    )
    statement = upsert(connection.dialect.name, cooldown_ledger).from_select(
        ["scope", "email", "campaign_id", "campaign_name", "contacted_at"], source
    )
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "email"],
        set_={"campaign_id": cooldown_ledger.c.campaign_id},
        where=false(),
    )
    await connection.execute(statement)


async def _take_people(
    connection: AsyncConnection, reservation: Reservation, *, deferred: bool = False
) -> None:
    """The recipients left queued: their ``cooldown_ledger`` row now names this campaign,
    the one it replaces kept in ``previous_*`` (for giving it back). With ``deferred``, a
    deferred delivery's row holds its due instant (one more statement, over them only)."""
    campaign_id, campaign_name = reservation.campaign_id, reservation.campaign_name
    scope, now = reservation.scope, reservation.now
    taken = queued_of(campaign_id)
    if deferred:
        people = deliveries.alias("people")
        taken = select(people.c.email).where(
            people.c.campaign_id == campaign_id,
            people.c.status == QUEUED,
            or_(people.c.code.is_(None), people.c.code != DEFERRED),
        )
    replaced = {
        "previous_campaign_id": cooldown_ledger.c.campaign_id,
        "previous_campaign_name": cooldown_ledger.c.campaign_name,
        "previous_contacted_at": cooldown_ledger.c.contacted_at,
        "campaign_id": campaign_id,
        "campaign_name": campaign_name,
    }
    await connection.execute(
        update(cooldown_ledger)
        .where(
            cooldown_ledger.c.scope == scope,
            cooldown_ledger.c.campaign_id.is_distinct_from(campaign_id),
            cooldown_ledger.c.email.in_(taken),
        )
        .values(**replaced, contacted_at=now)
    )
    if not deferred:
        return
    await connection.execute(
        update(cooldown_ledger)
        .where(
            cooldown_ledger.c.scope == scope,
            cooldown_ledger.c.campaign_id.is_distinct_from(campaign_id),
            cooldown_ledger.c.email == deliveries.c.email,
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == QUEUED,
            deliveries.c.code == DEFERRED,
        )
        .values(**replaced, contacted_at=deliveries.c.due_at)
    )


def category_lock_key(*, scope: int, organization_id: int, category: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    digest = hashlib.blake2b(
        f"campaignd frequency {scope} {organization_id} {category}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _lock_category(
    connection: AsyncConnection, *, scope: int, organization_id: int, category: str
) -> None:
    if connection.dialect.name != "postgresql":
        return  # SQLite: the writer transaction already excludes every other fan-out
    key = category_lock_key(scope=scope, organization_id=organization_id, category=category)
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@dataclass(frozen=True)
class Holder:
    """One distinct holder of the ``frequency_capped`` rows: the message that must age out
    before a slot frees, and how many messages are in the window."""

    campaign_id: int
    name: str | None
    contacted_at: datetime
    count: int
    organization_id: int | None
    status: str | None

    def matches(self) -> ColumnElement[bool]:
        return and_(
            CAPPED.c.campaign_id == self.campaign_id,
            CAPPED.c.contacted_at == self.contacted_at,
            CAPPED.c.count == self.count,
        )

    def shown(self, *, scope: int, organization_id: int) -> str | None:
        return shown_holder(
            self.name, self.organization_id, scope=scope, organization_id=organization_id
        )


async def _capped_holders(
    connection: AsyncConnection, rule: Rule, reservation: Reservation
) -> list[Holder]:
    """Fill ``frequency_capped`` with the queued recipients ``rule`` caps; read their
    distinct holders (a handful)."""
    people = queued_of(reservation.campaign_id).subquery("queued")
    found = capped_by(
        rule,
        people,
        scope=reservation.scope,
        organization_id=reservation.organization_id,
        category=reservation.category,
        campaign_id=reservation.campaign_id,
        now=reservation.now,
    )
    await _fill_capped(connection, select(*found.c))
    capped = CAPPED
    holders = (
        select(
            capped.c.campaign_id,
            capped.c.campaign_name,
            capped.c.contacted_at,
            capped.c.count,
            capped.c.organization_id,
            campaigns.c.status,
        )
        .select_from(capped.outerjoin(campaigns, campaigns.c.id == capped.c.campaign_id))
        .distinct()
    )
    return [
        Holder(int(holder_id), name, contacted_at, int(count), holder_organization, status)
        for holder_id, name, contacted_at, count, holder_organization, status in (
            await connection.execute(holders)
        ).all()
    ]


def _capped_here(campaign_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == QUEUED,
        deliveries.c.email == CAPPED.c.email,
    )


async def _skip_capped(connection: AsyncConnection, rule: Rule, reservation: Reservation) -> None:
    """Skip the queued recipients ``rule`` caps; the reason names the rule and the message
    that must age out first. The distinct holders (a handful) are read first, then one
    ``UPDATE`` skips them all, its reason a ``CASE`` over the holders."""
    holders = await _capped_holders(connection, rule, reservation)
    campaign_id, organization_id = reservation.campaign_id, reservation.organization_id
    scope, now = reservation.scope, reservation.now
    reasons = [
        (
            holder.matches(),
            literal(
                capped_reason(
                    rule,
                    campaign_name=holder.shown(scope=scope, organization_id=organization_id),
                    contacted_at=holder.contacted_at,
                    count=holder.count,
                    now=now,
                    sent=held_after_sending(holder.status),
                )
            ),
        )
        for holder in holders
    ]
    if not reasons:
        return
    await connection.execute(
        update(deliveries)
        .where(*_capped_here(campaign_id))
        .values(
            status=DeliveryStatus.SKIPPED.value,
            code=SkipCode.COOLDOWN.value,
            reason=case(*reasons, else_=literal(f"capped by the rule {rule.words}")),
        )
    )


async def _defer_capped(connection: AsyncConnection, rule: Rule, reservation: Reservation) -> None:
    """Defer the queued recipients ``rule`` caps to the instant it frees a slot for them
    (the holder's message plus the rule's days), unless an earlier rule already deferred
    them later: they stay queued with the code ``deferred``, ``due_at`` that instant and,
    for now, the cause as reason (``store.deferral.settle_deferrals`` words it). One
    ``UPDATE``, its instant and reason ``CASE``s over the holders."""
    holders = await _capped_holders(connection, rule, reservation)
    campaign_id, organization_id = reservation.campaign_id, reservation.organization_id
    scope, now = reservation.scope, reservation.now
    if not holders:
        return
    instants = sorted({holder.contacted_at for holder in holders})
    free = case(
        *[
            (CAPPED.c.contacted_at == moment, literal(moment + timedelta(days=rule.days), TIME))
            for moment in instants
        ]
    )
    causes = [
        (
            holder.matches(),
            literal(
                capped_cause(
                    rule,
                    campaign_name=holder.shown(scope=scope, organization_id=organization_id),
                    contacted_at=holder.contacted_at,
                    count=holder.count,
                    now=now,
                    sent=held_after_sending(holder.status),
                )
            ),
        )
        for holder in holders
    ]
    await connection.execute(
        update(deliveries)
        .where(
            *_capped_here(campaign_id),
            or_(deliveries.c.due_at.is_(None), deliveries.c.due_at < free),
        )
        .values(
            code=DEFERRED,
            due_at=free,
            reason=case(*causes, else_=literal(f"capped by the rule {rule.words}")),
        )
    )


@dataclass(frozen=True)
class Eligibility:
    """A preview's figures: recipients, those left out, those deferred (counted among the
    eligible), and the reasons of a sample of both."""

    total: int
    ineligible: int
    reasons: list[dict[str, str]]
    deferred: int = 0


async def preview_by_rules(
    connection: AsyncConnection,
    candidates: Subquery,
    *,
    suppressed: Subquery,
    rules: tuple[Rule, ...],
    scope: int,
    organization_id: int,
    category: str | None,
    campaign_id: int,
    now: datetime,
    limit: int,
    deadline: datetime | None = None,
) -> Eligibility:
    """The fan-out's checks read-only over ``candidates`` (``email``, ``part``, ``position``,
    each address once): the figures and reasons[:limit]; a recipient several rules cap is
    reported with the first (longest window first, as the fan-out checks them).

    With a ``deadline`` (a campaign that defers capped recipients) a capped recipient is
    deferred to the latest instant a rule that caps them frees a slot, or left out when that
    is after the deadline; the sample lists both, deferred ones with code ``deferred``.
    """
    capped = [
        capped_by(
            rule,
            candidates,
            scope=scope,
            organization_id=organization_id,
            category=category,
            campaign_id=campaign_id,
            now=now,
            name=f"capped_{index}",
        )
        for index, rule in enumerate(rules)
    ]
    holders = [campaigns.alias(f"holder_{index}") for index in range(len(rules))]
    checked: FromClause = candidates.outerjoin(suppressed, suppressed.c.email == candidates.c.email)
    for one, holder in zip(capped, holders, strict=True):
        checked = checked.outerjoin(one, one.c.email == candidates.c.email).outerjoin(
            holder, holder.c.id == one.c.campaign_id
        )
    left_out: ColumnElement[bool] = suppressed.c.email.is_not(None)
    any_capped: ColumnElement[bool] = false()
    for one in capped:
        any_capped = any_capped | one.c.email.is_not(None)
    deferred: ColumnElement[bool] = false()
    if deadline is None:
        ineligible = left_out | any_capped
    else:  # free after the deadline: a rule's holder later than the deadline less its days
        too_late: ColumnElement[bool] = false()
        for one, rule in zip(capped, rules, strict=True):
            too_late = too_late | (one.c.contacted_at > deadline - timedelta(days=rule.days))
        ineligible = left_out | too_late
        deferred = any_capped & ~ineligible
    counting = select(
        func.count(), func.count(case((ineligible, 1))), func.count(case((deferred, 1)))
    ).select_from(checked)
    total, ineligible_count, deferred_count = (await connection.execute(counting)).one()
    columns = [candidates.c.email, suppressed.c.reason.label("suppression")]
    for index, (one, holder) in enumerate(zip(capped, holders, strict=True)):
        columns += [
            one.c.email.label(f"capped_{index}"),
            one.c.campaign_name.label(f"name_{index}"),
            one.c.contacted_at.label(f"at_{index}"),
            one.c.count.label(f"count_{index}"),
            one.c.organization_id.label(f"organization_{index}"),
            holder.c.status.label(f"status_{index}"),
        ]
    sample = (
        select(*columns)
        .select_from(checked)
        .where(ineligible | deferred)
        .order_by(candidates.c.part, candidates.c.position)
        .limit(limit)
    )
    reasons = []
    for row in (await connection.execute(sample)).mappings():
        if row["suppression"] is not None:
            reasons.append(
                {
                    "email": row["email"],
                    "code": SkipCode.SUPPRESSED.value,
                    "reason": f"on the suppression list ({row['suppression']})",
                }
            )
            continue
        found = [n for n in range(len(rules)) if row[f"capped_{n}"] is not None]
        words = _RowWords(row, rules, scope=scope, organization_id=organization_id, now=now)
        if deadline is None:
            reasons.append(
                {"email": row["email"], "code": SkipCode.COOLDOWN.value, "reason": words(found[0])}
            )
            continue
        frees = {n: row[f"at_{n}"] + timedelta(days=rules[n].days) for n in found}
        latest = max(found, key=lambda n: (frees[n], -n))
        if frees[latest] > deadline:
            code = SkipCode.COOLDOWN.value
            reason = too_late_reason(frees[latest], words(latest, cause=True), deadline=deadline)
        else:
            code, reason = DEFERRED, deferred_reason(frees[latest], words(latest, cause=True))
        reasons.append({"email": row["email"], "code": code, "reason": reason})
    return Eligibility(int(total), int(ineligible_count), reasons, int(deferred_count))


@dataclass(frozen=True)
class _RowWords:
    """The words for one rule of a preview's sample row (``preview_by_rules``' columns)."""

    row: Any
    rules: tuple[Rule, ...]
    scope: int
    organization_id: int
    now: datetime

    def __call__(self, index: int, *, cause: bool = False) -> str:
        row = self.row
        worded = capped_cause if cause else capped_reason
        return worded(
            self.rules[index],
            campaign_name=shown_holder(
                row[f"name_{index}"],
                row[f"organization_{index}"],
                scope=self.scope,
                organization_id=self.organization_id,
            ),
            contacted_at=row[f"at_{index}"],
            count=int(row[f"count_{index}"]),
            now=self.now,
            sent=held_after_sending(row[f"status_{index}"]),
        )


async def _fill_capped(connection: AsyncConnection, source: Select[Any]) -> None:
    """Empty ``frequency_capped`` (made on first use) and fill it from ``source``."""
    if connection.dialect.name == "postgresql":
        columns = CAPPED_COLUMNS.format(time="TIMESTAMP WITH TIME ZONE")
        create = f"CREATE TEMPORARY TABLE IF NOT EXISTS frequency_capped {columns} ON COMMIT DROP"
    else:
        columns = CAPPED_COLUMNS.format(time="DATETIME")
        create = f"CREATE TEMPORARY TABLE IF NOT EXISTS frequency_capped {columns}"
    await connection.execute(text(create))
    await connection.execute(delete(CAPPED))
    await connection.execute(
        insert(CAPPED).from_select(
            ["email", "campaign_id", "campaign_name", "contacted_at", "organization_id", "count"],
            source,
        )
    )
    if connection.dialect.name == "postgresql":
        await connection.execute(text("ANALYZE frequency_capped"))
