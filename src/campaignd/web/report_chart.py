"""People's opens and clicks over a campaign's first days, as the geometry of a small
inline SVG chart (two bars per period: opens, clicks). Drawn on the server: no script,
no CDN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaignd.actions.campaign_report import TimelinePoint
from campaignd.web.charts import GridLine, grid_lines, nice_ceiling

WIDTH = 720
HEIGHT = 200
PLOT_TOP = 12
PLOT_BOTTOM = 164
LEFT = 44
RIGHT = 8
HOURLY_UP_TO = 48
"""Up to this many hours the chart has a bar pair per hour; beyond, per six hours."""


@dataclass(frozen=True)
class Period:
    start: datetime
    hours: int
    opens: int
    clicks: int
    x: float
    width: float
    opens_y: float
    opens_height: float
    clicks_y: float
    clicks_height: float


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class TimelineChart:
    periods: list[Period]
    grid: list[GridLine]
    labels: list[Label]
    opens: int
    clicks: int
    hours_per_period: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = PLOT_BOTTOM


def _grouped(points: list[TimelinePoint], hours: int) -> list[tuple[datetime, int, int]]:
    groups: list[tuple[datetime, int, int]] = []
    for index in range(0, len(points), hours):
        chunk = points[index : index + hours]
        groups.append((chunk[0].hour, sum(p.opens for p in chunk), sum(p.clicks for p in chunk)))
    return groups


def timeline_chart(points: list[TimelinePoint]) -> TimelineChart | None:
    """None when nobody opened or clicked yet."""
    if not points or not any(point.opens or point.clicks for point in points):
        return None
    hours = 1 if len(points) <= HOURLY_UP_TO else 6
    groups = _grouped(points, hours)
    top = nice_ceiling(max(2, *(max(opens, clicks) for _, opens, clicks in groups)))
    slot = (WIDTH - LEFT - RIGHT) / len(groups)
    gap = min(4.0, slot * 0.2)
    bar = (slot - gap) / 2
    plot = PLOT_BOTTOM - PLOT_TOP
    periods = []
    for index, (start, opens, clicks) in enumerate(groups):
        x = LEFT + index * slot + gap / 2
        opens_height = plot * opens / top
        clicks_height = plot * clicks / top
        periods.append(
            Period(
                start=start,
                hours=hours,
                opens=opens,
                clicks=clicks,
                x=round(x, 2),
                width=round(bar, 2),
                opens_y=round(PLOT_BOTTOM - opens_height, 2),
                opens_height=round(opens_height, 2),
                clicks_y=round(PLOT_BOTTOM - clicks_height, 2),
                clicks_height=round(clicks_height, 2),
            )
        )
    every = max(1, len(groups) // 6)
    labels = [
        Label(
            x=round(LEFT + (index + 0.5) * slot, 2),
            text=f"+{index * hours}h" if index * hours < 48 else f"+{index * hours // 24}d",
        )
        for index in range(len(groups))
        if index % every == 0
    ]
    grid = grid_lines(top, bottom=PLOT_BOTTOM, height=plot)
    return TimelineChart(
        periods=periods,
        grid=grid,
        labels=labels,
        opens=sum(period.opens for period in periods),
        clicks=sum(period.clicks for period in periods),
        hours_per_period=hours,
    )
