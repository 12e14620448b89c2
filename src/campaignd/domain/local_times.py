"""Wall-clock times in a time zone, and the two hours a year they do not name one instant.

When the clocks go forward a local hour is skipped (02:30 does not exist that night);
when they go back an hour happens twice (02:30 names two instants, an hour apart). PEP 495
tells them apart with ``fold``: 0 is the first occurrence, 1 the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ClockChange:
    """The clocks of ``zone`` jump from ``from_local`` to ``to_local`` (local wall times)."""

    zone: str
    from_local: datetime
    to_local: datetime
    before: datetime
    """An aware instant just before the change (its offset and abbreviation)."""
    after: datetime
    """An aware instant just after it."""


class SkippedTime(ValueError):
    """A local time that does not exist: the clocks jump over it."""

    def __init__(self, local: datetime, change: ClockChange) -> None:
        super().__init__(f"{local:%Y-%m-%d %H:%M} does not exist in {change.zone}")
        self.local = local
        self.change = change


@dataclass(frozen=True)
class LocalTime:
    """A local time resolved to one instant; ``other`` is the second instant it could
    mean when the hour happens twice (``None`` otherwise)."""

    moment: datetime
    other: datetime | None = None
    change: ClockChange | None = None

    @property
    def ambiguous(self) -> bool:
        return self.other is not None


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _clock_change(local: datetime, zone: ZoneInfo, name: str) -> ClockChange:
    """The change around the naive ``local`` whose two readings (fold 0 and 1) differ."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(first, second) - timedelta(hours=1), max(first, second) + timedelta(hours=1)
    offset_before = _offset(zone, low)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(zone, middle) == offset_before:
            low = middle
        else:
            high = middle
    change = high.replace(microsecond=0)
    before, after = (change - timedelta(seconds=1)).astimezone(zone), change.astimezone(zone)
    return ClockChange(
        zone=name,
        from_local=(change + offset_before).replace(tzinfo=None),
        to_local=(change + _offset(zone, change)).replace(tzinfo=None),
        before=before,
        after=after,
    )


def resolve(local: datetime, zone: ZoneInfo, name: str, *, fold: int = 0) -> LocalTime:
    """The instant a naive ``local`` time names in ``zone``.

    A skipped time raises SkippedTime (naming the change); a time that happens twice is
    the first occurrence (``fold`` 0) or the second (``fold`` 1), with the other given.
    """
    chosen = local.replace(tzinfo=zone, fold=fold)
    back = chosen.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != local:
        raise SkippedTime(local, _clock_change(local, zone, name))
    other = local.replace(tzinfo=zone, fold=1 - fold)
    if other.utcoffset() == chosen.utcoffset():
        return LocalTime(chosen)
    return LocalTime(chosen, other, _clock_change(local, zone, name))
