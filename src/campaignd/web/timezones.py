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


def _unknown_zone(name: str) -> BadTime:
    return BadTime(f"time zone: '{name[:64]}' is not a time zone we know; pick one from the list")


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name exactly as the picker offers it (no spaces around it)."""
    if not name or name != name.strip() or len(name) > 64:
        raise _unknown_zone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _unknown_zone(name) from None


def shown_zone(name: str | None) -> str:
    """The zone a campaign is shown in: the one it was scheduled in, else ``UTC``."""
    if name:
        try:
            zone_named(name)
        except BadTime:
            return "UTC"
        return name
    return "UTC"


def wall_text(local: datetime) -> str:
    """``14:00 on 1 January 2025``: a wall time as people say it."""
    return f"{local:%H:%M} on {local.day} {local:%B %Y}"


def zoned_text(moment: datetime, zone_name: str | None) -> str:
    """``Thu 10 Dec 2026, 09:00 (Europe/Berlin)``: ``moment`` in the campaign's zone."""
    name = shown_zone(zone_name)
    local = moment.astimezone(ZoneInfo(name))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({name})"


def picker_values(moment: datetime, zone_name: str | None) -> dict[str, str]:
    """Date, time and zone fields showing ``moment`` in the zone it was scheduled in."""
    name = shown_zone(zone_name)
    local = moment.astimezone(ZoneInfo(name))
    return {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H:%M}", "timezone": name}


def to_utc(day: str, clock: str, zone_name: str) -> datetime:
    """``2026-12-01``, ``09:30`` (or ``09:30:15``), ``Europe/Berlin`` -> aware datetime in UTC.

    A wall time that does not exist in the zone (skipped when the clocks go forward) is
    refused; one that happens twice (when they go back) means the first of the two.
    """
    try:
        local_day = date.fromisoformat(day.strip())
    except ValueError:
        raise BadTime(
            f"date: '{day.strip()[:20]}' is not a date; write it as YYYY-MM-DD, like 2026-12-10"
        ) from None
    try:
        local_time = time.fromisoformat(clock.strip())
    except ValueError:
        raise BadTime(
            f"time: '{clock.strip()[:20]}' is not a time; write it as HH:MM, like 09:30"
        ) from None
    zone = zone_named(zone_name or "UTC")
    local = datetime.combine(local_day, local_time.replace(tzinfo=None), tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise BadTime(
            f"time: {wall_text(local)} does not exist in {zone_name} "
            "(the clocks skip that hour); choose another time"
        )
    return moment


def iso_utc(moment: datetime) -> str:
    """``2026-12-01T08:30:00Z``: what ``<time datetime>`` and the browser script read."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
