"""Messages sent per hour as the geometry of a small bar chart (drawn as inline SVG)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH = 720
HEIGHT = 180
PLOT_TOP = 12
PLOT_BOTTOM = 148
LEFT = 44
RIGHT = 8
MAX_HOURS = 72


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    hour: datetime
    count: int


@dataclass(frozen=True)
class Label:
    x: float
    hour: datetime


@dataclass(frozen=True)
class GridLine:
    y: float
    value: int


@dataclass(frozen=True)
class HourlyChart:
    bars: list[Bar]
    labels: list[Label]
    grid: list[GridLine]
    total: int
    peak: int
    hours_left_out: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = PLOT_BOTTOM


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is at least ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def grid_lines(top: int, *, bottom: float, height: float) -> list[GridLine]:
    """Lines at 0, half of ``top`` and ``top`` of a plot ``height`` high above ``bottom``."""
    return [
        GridLine(y=round(bottom - height * part / 2, 2), value=top * part // 2)
        for part in (0, 1, 2)
    ]


def hourly_chart(points: list[tuple[datetime, int]]) -> HourlyChart | None:
    """Bars for every hour from the first to the last with sends (the last 72 at most)."""
    if not points:
        return None
    counts = dict(points)
    first, last = points[0][0], points[-1][0]
    hours = int((last - first).total_seconds() // 3600) + 1
    left_out = max(0, hours - MAX_HOURS)
    start = first + timedelta(hours=left_out)
    span = hours - left_out
    series = [(start + timedelta(hours=index), 0) for index in range(span)]
    series = [(hour, counts.get(hour, 0)) for hour, _ in series]
    top = nice_ceiling(max(count for _, count in series))
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / span
    gap = min(4.0, slot * 0.2)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for index, (hour, count) in enumerate(series):
        height = plot_height * count / top
        bars.append(
            Bar(
                x=round(LEFT + index * slot + gap / 2, 2),
                y=round(PLOT_BOTTOM - height, 2),
                width=round(slot - gap, 2),
                height=round(height, 2),
                hour=hour,
                count=count,
            )
        )
    every = max(1, span // 6)
    labels = [
        Label(x=round(LEFT + (index + 0.5) * slot, 2), hour=hour)
        for index, (hour, _) in enumerate(series)
        if index % every == 0
    ]
    grid = grid_lines(top, bottom=PLOT_BOTTOM, height=plot_height)
    return HourlyChart(
        bars=bars,
        labels=labels,
        grid=grid,
        total=sum(count for _, count in series),
        peak=max(count for _, count in series),
        hours_left_out=left_out,
    )
