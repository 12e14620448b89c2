"""Where a sending campaign's unfinished deliveries start, and whether any is left.

A campaign is done when none of its deliveries is ``queued`` or ``sending``. Asked of the
index ``(campaign_id, status, id)`` from the lowest id, the question steps over an entry for
every delivery that was queued and has been sent since the last vacuum: on PostgreSQL,
10 M deliveries with 9 M of them just sent made each question take 5-7 s, and the feeder's
claims that start over from the beginning as long.

``campaigns.unfinished_from_id`` is where to start instead: every delivery with a lower id
is final. It stays true as it grows, because no delivery ever leaves a final status (sent,
failed, skipped, cancelled; a bounce or a complaint only turns sent into another final
status), none is added once the campaign is fanned out, and a delivery found ``queued`` or
``sending`` in one snapshot is at or above the new mark (both statuses are probed in one
statement, so a delivery moving between them is seen in one of them). The scheduler moves
it on every pass (``probe``, then ``mark``): each pass then steps over the deliveries
finished since the last one only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import ScalarSelect

from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus
from campaignd.store.schema import campaigns, deliveries

UNFINISHED = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
MARK: ColumnElement[int] = func.coalesce(campaigns.c.unfinished_from_id, literal_column("0"))
"""The campaign's mark, 0 until the scheduler first moves it."""


def lowest(
    status: str, campaign_id: ColumnElement[int] | int, start: ColumnElement[int] | int
) -> ScalarSelect[int]:
    """The lowest id of the campaign's deliveries in ``status`` from ``start`` on: one probe
    of the queue index. The status and the limit are written into the statement, so a
    prepared statement's generic plan is the same probe; a scalar subquery, where
    PostgreSQL keeps the ``LIMIT`` it drops from an ``EXISTS``."""
    return (
        select(deliveries.c.id)
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == literal_column(f"'{status}'"),
            deliveries.c.id >= start,
        )
        .order_by(deliveries.c.id)
        .limit(literal_column("1"))
        .scalar_subquery()
    )


def nothing_left_to_send(campaign_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """No delivery of the campaign is queued or sending (in a statement on ``campaigns``,
    whose row gives the mark to start from)."""
    return and_(*(lowest(status, campaign_id, MARK).is_(None) for status in UNFINISHED))


@dataclass
class Probe:
    """What one look at the sending campaigns found."""

    done: list[int] = field(default_factory=list)
    """Sending, fanned-out campaigns with nothing queued or sending left."""
    marks: dict[int, int] = field(default_factory=dict)
    """Campaigns whose lowest unfinished delivery is above their mark: the new mark."""


def probe_statement() -> Select[Any]:
    """Per sending, fanned-out campaign, its mark and its lowest queued and lowest sending
    delivery from the mark on, in one statement (one snapshot)."""
    return select(
        campaigns.c.id,
        MARK.label("mark"),
        *(lowest(status, campaigns.c.id, MARK).label(status) for status in UNFINISHED),
    ).where(
        campaigns.c.status == CampaignStatus.SENDING.value,
        campaigns.c.fanned_out_at.is_not(None),
    )


async def probe(connection: AsyncConnection) -> Probe:
    """Which sending campaigns are done, and where the others' marks move to."""
    found = Probe()
    for campaign_id, mark, *lows in (await connection.execute(probe_statement())).all():
        present = [int(value) for value in lows if value is not None]
        if not present:
            found.done.append(int(campaign_id))
        elif min(present) > int(mark):
            found.marks[int(campaign_id)] = min(present)
    return found


async def mark(connection: AsyncConnection, marks: dict[int, int]) -> None:
    """Move each campaign's mark up to what ``probe`` found (never down)."""
    for campaign_id, start in marks.items():
        await connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, start > MARK)
            .values(unfinished_from_id=start)
        )
