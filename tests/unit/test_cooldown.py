"""The cooldown reason names the campaign, the days since and the date it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaignd.domain.cooldown import cooldown_reason


def test_reason_counts_days_and_names_the_end_date() -> None:
    now = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
    contacted = now - timedelta(days=15)
    reason = cooldown_reason(
        campaign_name="Winter Event", contacted_at=contacted, cooldown_days=90, now=now, sent=True
    )
    assert reason == "received 'Winter Event' 15 days ago; eligible again on 2027-01-12"


def test_reservation_in_flight_is_worded_as_such() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    reason = cooldown_reason(
        campaign_name="Spring", contacted_at=now, cooldown_days=30, now=now, sent=False
    )
    assert reason == "reserved for 'Spring' today; eligible again on 2026-12-29"
