"""Local-time delivery and send windows: when a recipient's message becomes due.

A local-time campaign names a wall-clock time (``2026-12-10T09:00``) that each recipient
gets in their own zone: the ``timezone`` variable (an IANA name), else the campaign's
default zone. A send window limits sending to hours of the recipient's day and week.

Clock changes have one answer everywhere (``instant_of``):

- a local time that does not exist (the clocks jump over it in spring) is shifted forward
  by the gap: 02:30 on the night Berlin goes from 02:00 to 03:00 is sent at 03:30 local
  (01:30 UTC), the instant an hour after 01:30 local;
- a local time that happens twice (the clocks go back in autumn) is its first occurrence,
  PEP 495's ``fold=0``: 02:30 on the night Berlin goes from 03:00 back to 02:00 is 02:30
  CEST (00:30 UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONE_VARIABLE = "timezone"
"""The recipient variable that names the recipient's zone."""
DEFAULT_ZONE = "UTC"
"""The default zone of a local-time campaign scheduled without one."""
LOCAL_TIME_FORMAT = "%Y-%m-%dT%H:%M"
FIRST_YEAR, LAST_YEAR = 1970, 9000
"""Local times outside these years are refused (every zone's instant stays representable)."""


def zone_named(name: object) -> ZoneInfo | None:
    """The zone called ``name`` (an IANA name); None when it is not one."""
    if not isinstance(name, str) or not name or len(name) > 64 or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_local_time(text: str) -> datetime:
    """A wall-clock time without offset, to the minute (``2026-12-10T09:00``); naive."""
    example = "a date and time without offset, like 2026-12-10T09:00"
    if not isinstance(text, str) or len(text) < 16 or text[10:11] not in ("T", " "):
        raise ValueError(example)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(example) from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"a year from {FIRST_YEAR} to {LAST_YEAR}")
    if moment.tzinfo is not None:
        raise ValueError("no offset: the time is read in each recipient's zone")
    if moment.second or moment.microsecond:
        raise ValueError("whole minutes only, like 2026-12-10T09:00")
    return moment


def local_time_text(moment: datetime) -> str:
    return moment.strftime(LOCAL_TIME_FORMAT)


def instant_of(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the naive ``local`` names in ``zone``: a skipped time is shifted
    forward by the gap, a repeated one is its first occurrence (see the module)."""
    # PEP 495: with fold=0 a time in a gap is read with the offset from before the gap,
    # which lands the same distance past the jump; a repeated time is the first one.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _clock_time(text: object, field: str) -> time:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"{field}: a time of day like 08:00")
    try:
        return time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise ValueError(f"{field}: a time of day like 08:00") from None


@dataclass(frozen=True)
class SendWindow:
    """Hours of the recipient's day (``start`` to ``end``, end excluded) on ``days``."""

    start: time
    end: time
    days: tuple[str, ...] = DAYS

    @classmethod
    def parse(cls, document: object, field: str = "sendWindow") -> SendWindow:
        """From ``{"start": "08:00", "end": "20:00", "days": ["mon", ...]}``; ``days``
        may be left out (every day). ValueError names the field at fault."""
        if not isinstance(document, Mapping):
            raise ValueError(f"{field}: an object with start, end and days")
        unknown = set(document) - {"start", "end", "days"}
        if unknown:
            raise ValueError(f"{field}.{sorted(unknown)[0]}: not a send window field")
        start = _clock_time(document.get("start"), f"{field}.start")
        end = _clock_time(document.get("end"), f"{field}.end")
        if end <= start:
            raise ValueError(f"{field}.end: must be after start (a window ends the same day)")
        days = document.get("days", list(DAYS))
        if not isinstance(days, list) or not days:
            raise ValueError(f'{field}.days: a list of days, like ["mon", "tue"]')
        for day in days:
            if day not in DAYS:
                raise ValueError(f"{field}.days: '{str(day)[:10]}' is not one of {', '.join(DAYS)}")
        return cls(start, end, tuple(day for day in DAYS if day in days))

    def document(self) -> dict[str, Any]:
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "days": list(self.days),
        }

    def around(self, moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The window that is open at ``moment`` (UTC), else the next one: (opens, closes)
        as UTC instants, read in ``zone`` (clock changes as ``instant_of``)."""
        day = moment.astimezone(zone).date() - timedelta(days=1)
        for offset in range(9):
            current = day + timedelta(days=offset)
            if DAYS[current.weekday()] not in self.days:
                continue
            opens, closes = self._on(current, zone)
            if closes > moment:
                return opens, closes
        raise AssertionError("a week always has an open day")  # parse refuses empty days

    def _on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        opens = instant_of(datetime.combine(day, self.start), zone)
        closes = instant_of(datetime.combine(day, self.end), zone)
        return opens, max(closes, opens + timedelta(minutes=1))


@dataclass(frozen=True)
class Due:
    """When a delivery in one zone may be claimed: from ``at``, until ``closes`` (None:
    no end)."""

    at: datetime
    closes: datetime | None


def due_in(
    zone: ZoneInfo, *, local: datetime | None, window: SendWindow | None, now: datetime
) -> Due:
    """When a delivery in ``zone`` becomes due: its local time (``now`` for a campaign sent
    at one instant), moved to the next window opening when it falls outside the window."""
    wave = now if local is None else instant_of(local, zone)
    if window is None:
        return Due(wave, None)
    opens, closes = window.around(max(wave, now), zone)
    return Due(max(wave, opens), closes)
