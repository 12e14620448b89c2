"""Per-delivery due instants: local-time waves and send windows (``domain.local_delivery``).

``deliveries.due_at``: a queued delivery is never claimed before it; ``window_closes_at``:
nor at or after it (its send window has closed, and ``roll_windows`` moves it to the next
opening). Both NULL (the usual case) mean "now" and "no end". ``deliveries.timezone`` is
the zone a delivery was planned in. Any code that wants a delivery to wait (local time,
a send window, a deferral) sets ``due_at``; the claim in ``store.queue`` honours it.

Everything here is set-based: one ``SELECT DISTINCT`` of the zones a campaign's recipients
name, the instants computed in Python per zone (a few hundred at most), and one ``UPDATE``
with a ``CASE`` over the zones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.deferral import DEFER, DEFERRED
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.domain.local_delivery import (
    DEFAULT_ZONE,
    ZONE_VARIABLE,
    Due,
    SendWindow,
    due_in,
    parse_local_time,
    zone_named,
)
from campaignd.store.campaign_audience import campaign_audience, newcomers
from campaignd.store.columns import UtcDateTime
from campaignd.store.dialect import json_text
from campaignd.store.rows import Row, every
from campaignd.store.schema import campaigns, contacts, deliveries
from campaignd.store.waiting import QUEUED

STARTED = (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value)
PAIRS_PER_STATEMENT = 200


@dataclass(frozen=True)
class Timing:
    """How a campaign's deliveries are timed: its local time, default zone and window."""

    local: datetime | None
    zone: str
    window: SendWindow | None

    @classmethod
    def of(cls, campaign: Row) -> Timing | None:
        """From a campaign row; None for a campaign sent at one instant with no window."""
        local, window = campaign.get("local_time"), campaign.get("send_window")
        if local is None and window is None:
            return None
        zone = str(campaign.get("timezone") or DEFAULT_ZONE)
        return cls(
            local=None if local is None else parse_local_time(str(local)),
            zone=zone if zone_named(zone) is not None else DEFAULT_ZONE,
            window=None if window is None else SendWindow.parse(window),
        )

    def zone_for(self, name: object) -> tuple[str, bool]:
        """The zone a recipient naming ``name`` gets, and whether it fell back to the
        default (a name given that is not an IANA zone)."""
        if isinstance(name, str) and zone_named(name) is not None:
            return name, False
        return self.zone, name is not None

    def due(self, zone: str, now: datetime) -> Due:
        found = zone_named(zone)
        assert found is not None
        return due_in(found, local=self.local, window=self.window, now=now)

    def after(self, zone: str, moment: datetime, now: datetime) -> Due:
        """When a delivery in ``zone`` deferred to ``moment`` becomes due: not before its
        wave, and inside the send window (its next opening when ``moment`` falls outside)."""
        start = max(moment, self.wave(zone, now))
        if self.window is None:
            return Due(start, None)
        found = zone_named(zone)
        assert found is not None
        opens, closes = self.window.around(start, found)
        return Due(max(start, opens), closes)

    def wave(self, zone: str, now: datetime) -> datetime:
        """The instant of the local time in ``zone`` (``now`` without a local time)."""
        found = zone_named(zone)
        assert found is not None
        return due_in(found, local=self.local, window=None, now=now).at


def zone_variable(connection: AsyncConnection) -> ColumnElement[str]:
    """A delivery's ``timezone`` variable, as text (NULL when absent)."""
    return json_text(connection.dialect.name, deliveries.c.variables, ZONE_VARIABLE)


async def named_zones(connection: AsyncConnection, campaign_id: int) -> list[str | None]:
    """The distinct ``timezone`` values of a campaign's queued deliveries."""
    named = zone_variable(connection)
    statement = (
        select(named)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == QUEUED)
        .distinct()
    )
    values = (await connection.execute(statement)).scalars()
    return [None if value is None else str(value) for value in values]


def _by_zone(
    key: ColumnElement[Any], values: dict[str, Any], default: Any, type_: Any
) -> ColumnElement[Any]:
    """``CASE key WHEN zone THEN value ... ELSE default END`` (plain ``default`` when every
    zone has it)."""
    branches = {zone: value for zone, value in values.items() if value != default}
    if not branches:
        return literal(default, type_)
    return case(
        {zone: literal(value, type_) for zone, value in branches.items()},
        value=key,
        else_=literal(default, type_),
    )


async def plan_due_times(
    connection: AsyncConnection,
    campaign_id: int,
    timing: Timing,
    *,
    now: datetime,
    keep_deferred: bool = False,
) -> dict[str, Due]:
    """At fan-out: give every queued delivery of the campaign its zone, due instant and
    window end, in one ``UPDATE``. Returns the due instant per zone planned.

    ``keep_deferred``: a deferred delivery (``domain.deferral``) gets its zone only; its
    due instant is planned from the one it was deferred to (``plan_deferred``)."""
    named = zone_variable(connection)
    zones: dict[str, str] = {}  # a name recipients give -> the zone it resolves to
    for name in await named_zones(connection, campaign_id):
        if name is not None:
            zones[name] = timing.zone_for(name)[0]
    planned = {zone: timing.due(zone, now) for zone in {timing.zone, *zones.values()}}
    default = planned[timing.zone]
    due_at = _by_zone(
        named, {name: planned[zone].at for name, zone in zones.items()}, default.at, UtcDateTime()
    )
    closes = _by_zone(
        named,
        {name: planned[zone].closes for name, zone in zones.items()},
        default.closes,
        UtcDateTime(),
    )
    if keep_deferred:
        deferred = deliveries.c.code == DEFERRED
        due_at = case((deferred, deliveries.c.due_at), else_=due_at)
        closes = case((deferred, deliveries.c.window_closes_at), else_=closes)
    statement = (
        update(deliveries)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == QUEUED)
        .values(
            timezone=_by_zone(named, zones, timing.zone, deliveries.c.timezone.type),
            due_at=due_at,
            window_closes_at=closes,
        )
    )
    await connection.execute(statement)
    return planned


async def plan_deferred(
    connection: AsyncConnection, campaign_id: int, timing: Timing, *, now: datetime
) -> None:
    """At fan-out, after ``plan_due_times``: a deferred delivery of a local-time or
    send-window campaign is due at the later of its deferred instant and its wave, moved to
    the next opening of its window when that falls outside it.

    Deferred instants come from the holders' messages (a handful of instants), so the
    distinct (zone, instant) pairs are few: they are read with one ``SELECT DISTINCT``, the
    instants computed in Python per pair, and written by one ``UPDATE`` per
    ``PAIRS_PER_STATEMENT`` pairs with a ``CASE`` over them."""
    deferred = (
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == QUEUED,
        deliveries.c.code == DEFERRED,
    )
    pairs = (
        select(deliveries.c.timezone, deliveries.c.due_at)
        .where(*deferred, deliveries.c.timezone.is_not(None), deliveries.c.due_at.is_not(None))
        .distinct()
    )
    found = (await connection.execute(pairs)).all()
    planned = [
        (
            and_(deliveries.c.timezone == zone, deliveries.c.due_at == at),
            timing.after(zone, at, now),
        )
        for zone, at in found
    ]
    for first in range(0, len(planned), PAIRS_PER_STATEMENT):
        chunk = planned[first : first + PAIRS_PER_STATEMENT]
        # a moved instant planned again stays where it is: the chunks may run in any order
        await connection.execute(
            update(deliveries)
            .where(*deferred, or_(*[matches for matches, _due in chunk]))
            .values(
                due_at=case(*[(matches, literal(due.at, UtcDateTime())) for matches, due in chunk]),
                window_closes_at=case(
                    *[(matches, literal(due.closes, UtcDateTime())) for matches, due in chunk]
                ),
            )
        )


async def zone_counts(
    connection: AsyncConnection, campaign: Row, *, now: datetime
) -> list[tuple[str | None, int]]:
    """(``timezone`` value, recipients) over a campaign's recipients and, before its
    fan-out, the contacts of its lists and segments it does not hold yet."""
    campaign_id = int(campaign["id"])
    named = zone_variable(connection)
    statement = (
        select(named, func.count()).where(deliveries.c.campaign_id == campaign_id).group_by(named)
    )
    counts: dict[str | None, int] = {}
    for name, count in (await connection.execute(statement)).all():
        counts[name] = counts.get(name, 0) + int(count)
    if campaign["fanned_out_at"] is None:
        audience = await campaign_audience(
            connection, campaign_id, int(campaign["organization_id"]), now=now
        )
        if audience is not None:
            attribute = json_text(connection.dialect.name, contacts.c.attributes, ZONE_VARIABLE)
            zones = newcomers(
                campaign_id, audience, attribute.label("zone"), func.count()
            ).group_by(attribute)
            for name, count in (await connection.execute(zones)).all():
                counts[name] = counts.get(name, 0) + int(count)
    return [(None if name is None else str(name), count) for name, count in counts.items()]


async def roll_windows(connection: AsyncConnection, *, now: datetime) -> int:
    """Queued deliveries whose send window has closed wait for the next opening in their
    zone (started campaigns with a window; paused ones too, so a resume finds them right).
    Returns how many deliveries moved."""
    statement = (
        select(deliveries.c.campaign_id, deliveries.c.timezone)
        .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
        .where(
            campaigns.c.status.in_(STARTED),
            campaigns.c.send_window.is_not(None),
            campaigns.c.fanned_out_at.is_not(None),
            deliveries.c.status == QUEUED,
            deliveries.c.due_at <= now,  # always before its window closes: keeps it indexed
            deliveries.c.window_closes_at <= now,
        )
        .distinct()
    )
    closed = (await connection.execute(statement)).all()
    windows: dict[int, Any] = {}
    if closed:
        ids = sorted({int(campaign_id) for campaign_id, _zone in closed})
        found_windows = select(campaigns.c.id, campaigns.c.send_window).where(
            campaigns.c.id.in_(ids)
        )
        windows = {
            int(key): value for key, value in (await connection.execute(found_windows)).all()
        }
    moved = 0
    for campaign_id, zone in closed:
        document = windows.get(int(campaign_id))
        if document is None:
            continue
        window, found = SendWindow.parse(document), zone_named(zone)
        if found is None:
            continue
        due = due_in(found, local=None, window=window, now=now)
        result = await connection.execute(
            update(deliveries)
            .where(
                deliveries.c.campaign_id == campaign_id,
                deliveries.c.status == QUEUED,
                deliveries.c.timezone == zone,
                deliveries.c.window_closes_at <= now,
            )
            .values(due_at=due.at, window_closes_at=due.closes)
        )
        moved += result.rowcount
    return moved


async def next_window_change(connection: AsyncConnection, *, now: datetime) -> datetime | None:
    """The next instant a queued delivery of a started campaign becomes due or its window
    closes, or a deferral deadline passes: when workers should be woken, windows rolled
    and deferred deliveries past their deadline skipped."""
    started = and_(
        campaigns.c.id == deliveries.c.campaign_id,
        campaigns.c.status.in_(STARTED),
        campaigns.c.fanned_out_at.is_not(None),
    )
    due = select(func.min(deliveries.c.due_at)).where(
        started, deliveries.c.status == QUEUED, deliveries.c.due_at > now
    )
    closes = select(func.min(deliveries.c.window_closes_at)).where(
        started,
        campaigns.c.send_window.is_not(None),
        deliveries.c.status == QUEUED,
        deliveries.c.due_at <= now,
        deliveries.c.window_closes_at > now,
    )
    deadline = select(func.min(campaigns.c.defer_until)).where(
        campaigns.c.status.in_(STARTED),
        campaigns.c.fanned_out_at.is_not(None),
        campaigns.c.capped_recipients == DEFER,
        campaigns.c.defer_until > now,
    )
    found = [
        value
        for value in [
            (await connection.execute(due)).scalar_one_or_none(),
            (await connection.execute(closes)).scalar_one_or_none(),
            (await connection.execute(deadline)).scalar_one_or_none(),
        ]
        if value is not None
    ]
    return min(found) if found else None


@dataclass(frozen=True)
class Wave:
    """The deliveries of one zone of a local-time campaign."""

    zone: str
    local: datetime | None
    at: datetime
    recipients: int
    sent: int
    queued: int
    due_at: datetime | None
    """The earliest queued delivery's due instant (a window may have moved it)."""
    first_sent_at: datetime | None


async def waves(connection: AsyncConnection, campaign: Row, *, now: datetime) -> list[Wave]:
    """A fanned-out campaign's waves, by zone, in the order they go out."""
    timing = Timing.of(campaign)
    if timing is None:
        return []
    sent = func.sum(case((deliveries.c.status == "sent", 1), else_=0))
    queued = func.sum(case((deliveries.c.status == QUEUED, 1), else_=0))
    queued_due = type_coerce(
        func.min(case((deliveries.c.status == QUEUED, deliveries.c.due_at))), UtcDateTime()
    )
    statement = (
        select(
            deliveries.c.timezone,
            func.count().label("recipients"),
            sent.label("sent"),
            queued.label("queued"),
            queued_due.label("due_at"),
            type_coerce(func.min(deliveries.c.sent_at), UtcDateTime()).label("first_sent_at"),
        )
        .where(deliveries.c.campaign_id == campaign["id"], deliveries.c.timezone.is_not(None))
        .group_by(deliveries.c.timezone)
    )
    found = []
    for row in every(await connection.execute(statement)):
        zone = str(row["timezone"])
        found.append(
            Wave(
                zone=zone,
                local=timing.local,
                at=timing.wave(zone, now),
                recipients=int(row["recipients"]),
                sent=int(row["sent"] or 0),
                queued=int(row["queued"] or 0),
                due_at=row["due_at"],
                first_sent_at=row["first_sent_at"],
            )
        )
    return sorted(found, key=lambda wave: (wave.at, wave.zone))


def planned_waves(
    campaign: Row, names: Iterable[tuple[str | None, int]], *, now: datetime
) -> list[tuple[str, datetime, int]]:
    """Waves before fan-out, from (zone name given, recipients) pairs: (zone, instant,
    recipients), soonest first; unknown names count in the default zone's wave."""
    timing = Timing.of(campaign)
    if timing is None or timing.local is None:
        return []
    counts: dict[str, int] = {}
    for name, count in names:
        zone = timing.zone_for(name)[0]
        counts[zone] = counts.get(zone, 0) + count
    found = [(zone, timing.wave(zone, now), count) for zone, count in counts.items() if count]
    return sorted(found, key=lambda item: (item[1], item[0]))


@dataclass(frozen=True)
class Waiting:
    """Why a started campaign sends nothing now: its next delivery is due at ``at`` in
    ``zone`` (a later wave, or the next opening of its send window; None: a deferred
    delivery of a campaign sent at one instant)."""

    at: datetime
    zone: str | None


async def waiting_for(
    connection: AsyncConnection, campaign_id: int, *, now: datetime
) -> Waiting | None:
    """None when a queued delivery of the campaign is due now (or none is queued);
    otherwise when the next one becomes due."""
    queued = (deliveries.c.campaign_id == campaign_id, deliveries.c.status == QUEUED)
    due_now = select(deliveries.c.id).where(
        *queued,
        (deliveries.c.due_at.is_(None)) | (deliveries.c.due_at <= now),
        (deliveries.c.window_closes_at.is_(None)) | (deliveries.c.window_closes_at > now),
    )
    if (await connection.execute(due_now.limit(1))).first() is not None:
        return None
    later = (
        select(deliveries.c.due_at, deliveries.c.timezone)
        .where(*queued, deliveries.c.due_at > now)
        .order_by(deliveries.c.due_at)
        .limit(1)
    )
    found = (await connection.execute(later)).first()
    if found is None:
        return None
    return Waiting(at=found[0], zone=None if found[1] is None else str(found[1]))


def named_by(
    connection: AsyncConnection, campaign_id: int, audience: Select[tuple[int, str, Any]] | None
) -> Subquery:
    """(email, ``zone``, part, position) of everyone the campaign mails: its deliveries
    (part 0, their ``timezone`` variable) and the newcomers of ``audience``, its lists and
    segments before it fans out (part 1, their ``timezone`` attribute)."""
    recipients = select(
        deliveries.c.email.label("email"),
        zone_variable(connection).label("zone"),
        literal(0, Integer).label("part"),
        deliveries.c.id.label("position"),
    ).where(deliveries.c.campaign_id == campaign_id)
    if audience is None:
        return recipients.subquery("everyone")
    attribute = json_text(connection.dialect.name, contacts.c.attributes, ZONE_VARIABLE)
    joining = newcomers(
        campaign_id,
        audience,
        contacts.c.email.label("email"),
        attribute.label("zone"),
        literal(1, Integer).label("part"),
        contacts.c.id.label("position"),
    )
    return union_all(recipients, joining).subquery("everyone")


async def named_zones_of(connection: AsyncConnection, named: Subquery) -> list[str | None]:
    """The distinct ``timezone`` values of ``named`` (``named_by``)."""
    values = (await connection.execute(select(named.c.zone).distinct())).scalars()
    return [None if value is None else str(value) for value in values]


async def recipients_naming(
    connection: AsyncConnection, named: Subquery, names: list[str], *, limit: int
) -> list[tuple[str, str]]:
    """(email, ``timezone`` value) of ``named`` (``named_by``) naming one of ``names``: the
    campaign's recipients first, then its audience's contacts."""
    statement = (
        select(named.c.email, named.c.zone)
        .where(named.c.zone.in_(names))
        .order_by(named.c.part, named.c.position)
        .limit(limit)
    )
    return [(str(email), str(name)) for email, name in (await connection.execute(statement)).all()]
