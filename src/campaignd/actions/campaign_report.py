"""What happened after sending: a campaign's report, the comparison of an organization's
last campaigns, and the per-recipient outcomes as CSV.

Every figure comes from the store (``store.tracking``); each campaign is looked up in the
principal's scope, so another organization's campaign is NotFound.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from campaignd.actions.errors import Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.store import campaigns as campaign_store
from campaignd.store import tracking
from campaignd.store.rows import Row
from campaignd.store.tracking import EXPORT_COLUMNS, Engagement, LinkClicks, Outcomes
from campaignd.store.waiting import shown_status

EXPORT_PAGE_ROWS = 5000
MAX_COMPARED = 50
TIMELINE_HOURS = tracking.TIMELINE_DAYS * 24


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a fraction (0.25), None when there is no whole."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Summary:
    """The figures of one campaign, as the comparison shows them."""

    campaign_id: int
    name: str
    status: str
    organization: str
    started_at: datetime | None
    track_clicks: bool
    track_opens: bool
    outcomes: Outcomes
    engagement: Engagement

    @property
    def open_rate(self) -> float | None:
        """Recipients a person opened the message of, per delivered message."""
        return rate(self.engagement.unique_opens, self.outcomes.delivered)

    @property
    def click_through_rate(self) -> float | None:
        """Recipients who clicked, per delivered message."""
        return rate(self.engagement.unique_clicks, self.outcomes.delivered)

    @property
    def click_to_open_rate(self) -> float | None:
        """Recipients who clicked, per recipient who opened (with open tracking)."""
        return rate(self.engagement.unique_clicks, self.engagement.unique_opens)


@dataclass(frozen=True)
class TimelinePoint:
    hour: datetime
    opens: int
    clicks: int


@dataclass(frozen=True)
class Report(Summary):
    links: list[LinkClicks] = field(default_factory=list)
    machine_reasons: dict[str, int] = field(default_factory=dict)
    timeline: list[TimelinePoint] = field(default_factory=list)
    """People's opens and clicks per hour (UTC) from the first hour after the start to the
    last with any, within the first ``TIMELINE_DAYS`` days; hours with none included."""


def _timeline(
    start: datetime | None, events: list[tuple[datetime, str, int]]
) -> list[TimelinePoint]:
    if start is None or not events:
        return []
    first = start.replace(minute=0, second=0, microsecond=0)
    hours = min(TIMELINE_HOURS, int((events[-1][0] - first).total_seconds() // 3600) + 1)
    opens = {hour: count for hour, kind, count in events if kind == tracking.OPEN}
    clicks = {hour: count for hour, kind, count in events if kind == tracking.CLICK}
    points = []
    for offset in range(max(hours, 1)):
        hour = first + timedelta(hours=offset)
        points.append(TimelinePoint(hour, opens.get(hour, 0), clicks.get(hour, 0)))
    return points


async def _in_scope(services: Services, principal: Principal, campaign_id: int) -> Row:
    async with services.database.connection() as connection:
        campaign = await campaign_store.get_campaign(
            connection, campaign_id, organization_id=principal.scope
        )
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


def _summary(campaign: Row, outcomes: Outcomes, engagement: Engagement) -> dict[str, object]:
    return {
        "campaign_id": int(campaign["id"]),
        "name": str(campaign["name"]),
        "status": str(campaign["status"]),
        "organization": str(campaign["organization"]),
        "started_at": campaign["started_at"],
        "track_clicks": bool(campaign["track_clicks"]),
        "track_opens": bool(campaign["track_opens"]),
        "outcomes": outcomes,
        "engagement": engagement,
    }


async def campaign_report(services: Services, principal: Principal, campaign_id: int) -> Report:
    campaign = await _in_scope(services, principal, campaign_id)
    async with services.database.connection() as connection:
        outcomes = (await tracking.outcome_figures(connection, [campaign_id]))[campaign_id]
        engagement = (await tracking.engagement_figures(connection, [campaign_id]))[campaign_id]
        links = await tracking.link_clicks(connection, campaign_id)
        reasons = await tracking.machine_reasons(connection, campaign_id)
        start = campaign["started_at"]
        events = await tracking.hourly_events(connection, campaign_id, start) if start else []
    return Report(
        **_summary(campaign, outcomes, engagement),  # type: ignore[arg-type]
        links=links,
        machine_reasons=reasons,
        timeline=_timeline(start, events),
    )


async def compare_campaigns(
    services: Services, principal: Principal, *, organization: str | None = None, limit: int = 10
) -> tuple[str, list[Summary]]:
    """The organization's last ``limit`` campaigns that started, newest first."""
    if not 1 <= limit <= MAX_COMPARED:
        raise Invalid(f"limit: between 1 and {MAX_COMPARED}")
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        rows = await campaign_store.list_campaigns(
            connection, organization_id=organization_id, limit=limit * 4
        )
        started = [row for row in rows if row["started_at"] is not None][:limit]
        ids = [int(row["id"]) for row in started]
        outcomes = await tracking.outcome_figures(connection, ids)
        engagement = await tracking.engagement_figures(connection, ids)
    return slug, [
        Summary(**_summary(row, outcomes[int(row["id"])], engagement[int(row["id"])]))  # type: ignore[arg-type]
        for row in started
    ]


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


@dataclass(frozen=True)
class OutcomePage:
    text: str
    """CSV lines, each ending in CRLF."""
    rows: int


@dataclass(frozen=True)
class OutcomeExport:
    campaign_id: int
    name: str
    total: int
    """Recipients when the export began."""
    pages: AsyncIterator[OutcomePage]
    header: str = ",".join(EXPORT_COLUMNS) + "\r\n"

    @property
    def file_name(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower()[:60]
        return f"campaign-{self.campaign_id}-{slug or 'outcomes'}.csv"

    async def lines(self) -> AsyncIterator[str]:
        yield self.header
        async for page in self.pages:
            yield page.text


async def export_outcomes(
    services: Services, principal: Principal, campaign_id: int, *, page_rows: int = EXPORT_PAGE_ROWS
) -> OutcomeExport:
    """Per recipient, in the order they were added: ``EXPORT_COLUMNS``. Read a page at a
    time, each in a short read transaction, so memory stays flat whatever the size."""
    campaign = await _in_scope(services, principal, campaign_id)

    async with services.database.connection() as connection:
        counts = await campaign_store.delivery_counts(connection, [campaign_id])
    total = sum(counts[campaign_id].values())
    fanned_out = campaign["fanned_out_at"] is not None

    async def pages() -> AsyncIterator[OutcomePage]:
        after = 0
        while True:
            async with services.database.connection() as connection:
                rows = await tracking.export_page(
                    connection, campaign_id, after_id=after, limit=page_rows
                )
            if rows:
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\r\n").writerows(
                    [row[1], shown_status(str(row[2]), fanned_out=fanned_out)]
                    + [_cell(value) for value in row[3:]]
                    for row in rows
                )
                yield OutcomePage(buffer.getvalue(), len(rows))
            if len(rows) < page_rows:
                return
            after = int(str(rows[-1][0]))

    return OutcomeExport(campaign_id, str(campaign["name"]), total, pages())
