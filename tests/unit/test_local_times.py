"""Local times around the clock changes: the skipped hour and the hour that happens twice."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from campaignd.domain.local_times import SkippedTime, resolve

BERLIN = ZoneInfo("Europe/Berlin")


def test_an_ordinary_time_is_one_instant() -> None:
    local = resolve(datetime(2026, 12, 1, 9, 0), BERLIN, "Europe/Berlin")
    assert local.moment.astimezone(UTC) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert not local.ambiguous and local.change is None


def test_the_repeated_hour_is_the_first_or_with_fold_the_second() -> None:
    first = resolve(datetime(2026, 10, 25, 2, 30), BERLIN, "Europe/Berlin")
    second = resolve(datetime(2026, 10, 25, 2, 30), BERLIN, "Europe/Berlin", fold=1)
    assert first.moment.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second.moment.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert first.other == second.moment and second.other == first.moment
    assert first.change is not None
    assert (first.change.from_local, first.change.to_local) == (
        datetime(2026, 10, 25, 3, 0),
        datetime(2026, 10, 25, 2, 0),
    )
    assert (first.change.before.tzname(), first.change.after.tzname()) == ("CEST", "CET")


def test_the_skipped_hour_is_refused_naming_the_change() -> None:
    with pytest.raises(SkippedTime) as raised:
        resolve(datetime(2026, 3, 29, 2, 30), BERLIN, "Europe/Berlin")
    change = raised.value.change
    assert (change.from_local, change.to_local) == (
        datetime(2026, 3, 29, 2, 0),
        datetime(2026, 3, 29, 3, 0),
    )
    assert (change.before.tzname(), change.after.tzname()) == ("CET", "CEST")


def test_a_half_hour_change_and_the_southern_hemisphere() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # moves by 30 minutes
    with pytest.raises(SkippedTime) as raised:
        resolve(datetime(2026, 10, 4, 2, 15), lord_howe, "Australia/Lord_Howe")
    assert raised.value.change.to_local == datetime(2026, 10, 4, 2, 30)
    sydney = resolve(datetime(2026, 4, 5, 2, 30), ZoneInfo("Australia/Sydney"), "Sydney")
    assert sydney.ambiguous
