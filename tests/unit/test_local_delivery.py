"""Local-time waves and send windows: the instants, and the two clock-change answers."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from campaignd.domain.local_delivery import (
    SendWindow,
    due_in,
    instant_of,
    parse_local_time,
    zone_named,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = {"start": "08:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"]}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_the_same_local_time_is_three_instants_in_three_zones() -> None:
    local = datetime(2026, 12, 10, 9, 0)
    assert instant_of(local, ZoneInfo("Asia/Tokyo")) == utc(2026, 12, 10, 0, 0)
    assert instant_of(local, BERLIN) == utc(2026, 12, 10, 8, 0)
    assert instant_of(local, NEW_YORK) == utc(2026, 12, 10, 14, 0)


def test_a_skipped_local_time_is_shifted_forward_by_the_gap() -> None:
    # 2027-03-28: Berlin's clocks jump from 02:00 to 03:00; 02:30 is sent at 03:30 CEST
    assert instant_of(datetime(2027, 3, 28, 2, 30), BERLIN) == utc(2027, 3, 28, 1, 30)
    assert instant_of(datetime(2027, 3, 28, 3, 30), BERLIN) == utc(2027, 3, 28, 1, 30)
    # 2027-03-14 in New York: 02:15 does not exist, it is sent at 03:15 EDT
    assert instant_of(datetime(2027, 3, 14, 2, 15), NEW_YORK) == utc(2027, 3, 14, 7, 15)


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    # 2027-10-31: Berlin's clocks go back from 03:00 to 02:00; 02:30 is first at CEST (+2)
    assert instant_of(datetime(2027, 10, 31, 2, 30), BERLIN) == utc(2027, 10, 31, 0, 30)
    assert instant_of(datetime(2027, 11, 7, 1, 30), NEW_YORK) == utc(2027, 11, 7, 5, 30)


def test_a_wave_follows_the_zone_offset_of_its_own_day() -> None:
    # the day after Europe's spring change Berlin is UTC+2; the day before, UTC+1
    assert instant_of(datetime(2027, 3, 27, 9, 0), BERLIN) == utc(2027, 3, 27, 8, 0)
    assert instant_of(datetime(2027, 3, 28, 9, 0), BERLIN) == utc(2027, 3, 28, 7, 0)


def test_local_times_are_refused_with_an_offset_or_seconds() -> None:
    assert parse_local_time("2026-12-10T09:00") == datetime(2026, 12, 10, 9, 0)
    for bad in (
        "2026-12-10T09:00+01:00",
        "tomorrow",
        "2026-12-10T09:00:30",
        "2026-12-10",
        "0001-01-01T00:00",
        "9999-12-31T23:59",
    ):
        with pytest.raises(ValueError):
            parse_local_time(bad)


def test_unknown_zone_names_are_none() -> None:
    assert zone_named("Europe/Berlin") == BERLIN
    for bad in ("Mars/Olympus", "", " Europe/Berlin", "../etc/passwd", 7, None):
        assert zone_named(bad) is None


def test_a_window_open_now_is_the_current_one() -> None:
    window = SendWindow.parse(WEEKDAYS)
    # Thursday 2026-12-10 12:00 Berlin
    assert window.around(utc(2026, 12, 10, 11, 0), BERLIN) == (
        utc(2026, 12, 10, 7, 0),
        utc(2026, 12, 10, 19, 0),
    )


def test_after_friday_evening_the_window_opens_on_monday() -> None:
    window = SendWindow.parse(WEEKDAYS)
    friday_evening = utc(2026, 12, 11, 19, 30)  # 20:30 in Berlin
    assert window.around(friday_evening, BERLIN)[0] == utc(2026, 12, 14, 7, 0)


def test_a_wave_outside_the_window_waits_for_the_opening() -> None:
    window = SendWindow.parse({"start": "10:00", "end": "12:00"})
    due = due_in(BERLIN, local=datetime(2026, 12, 10, 9, 0), window=window, now=utc(2026, 12, 1))
    assert (due.at, due.closes) == (utc(2026, 12, 10, 9, 0), utc(2026, 12, 10, 11, 0))
    inside = due_in(
        BERLIN, local=datetime(2026, 12, 10, 11, 0), window=window, now=utc(2026, 12, 1)
    )
    assert inside.at == utc(2026, 12, 10, 10, 0)


def test_window_fields_are_checked_by_name() -> None:
    assert SendWindow.parse({"start": "08:00", "end": "20:00"}).days == (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    )
    assert SendWindow.parse(WEEKDAYS).start == time(8, 0)
    for bad, field in [
        ({"start": "8", "end": "20:00"}, "sendWindow.start"),
        ({"start": "08:00", "end": "07:00"}, "sendWindow.end"),
        ({"start": "08:00", "end": "25:00"}, "sendWindow.end"),
        ({"start": "08:00", "end": "20:00", "days": ["someday"]}, "sendWindow.days"),
        ({"start": "08:00", "end": "20:00", "days": []}, "sendWindow.days"),
        ({"start": "08:00", "end": "20:00", "hours": 3}, "sendWindow.hours"),
        ("always", "sendWindow"),
    ]:
        with pytest.raises(ValueError, match=field.replace(".", r"\.")):
            SendWindow.parse(bad)
