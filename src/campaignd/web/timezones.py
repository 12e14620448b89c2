"""Date, time and time zone from a form, turned into an aware UTC datetime (and back)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class BadTime(ValueError):
    """The date, time or zone cannot be read; the message says which, in words."""


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, ``UTC`` first, then alphabetical (legacy aliases left out)."""
    names = {
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    }
    return ("UTC", *sorted(names))


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name exactly as the picker offers it (no spaces around it)."""
    if not name or name != name.strip() or len(name) > 64:
        raise BadTime(f"time zone: unknown zone '{name[:64]}'; pick one from the list")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTime(f"time zone: unknown zone '{name}'; pick one from the list") from None


def to_utc(day: str, clock: str, zone_name: str) -> datetime:
    """``2026-12-01``, ``09:30`` (or ``09:30:15``), ``Europe/Berlin`` -> aware datetime in UTC.

    A wall time that does not exist in the zone (skipped when the clocks go forward) is
    refused; one that happens twice (when they go back) means the first of the two.
    """
    try:
        local_day = date.fromisoformat(day.strip())
    except ValueError:
        raise BadTime("date: use the form YYYY-MM-DD") from None
    try:
        local_time = time.fromisoformat(clock.strip())
    except ValueError:
        raise BadTime("time: use the form HH:MM") from None
    zone = zone_named(zone_name or "UTC")
    local = datetime.combine(local_day, local_time.replace(tzinfo=None), tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise BadTime(
            f"time: {local_day} {local_time:%H:%M} does not exist in {zone_name} "
            "(the clocks skip it); choose another time"
        )
    return moment


def iso_utc(moment: datetime) -> str:
    """``2026-12-01T08:30:00Z``: what ``<time datetime>`` and the browser script read."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
