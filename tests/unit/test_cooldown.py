"""The cooldown reason names the campaign (the organization's own only), the days since and
the date it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaignd.domain.cooldown import cooldown_reason, shown_name


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


def test_an_unnamed_holder_is_another_campaign() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    received = cooldown_reason(
        campaign_name=None, contacted_at=now, cooldown_days=30, now=now, sent=True
    )
    reserved = cooldown_reason(
        campaign_name=None, contacted_at=now, cooldown_days=30, now=now, sent=False
    )
    assert received == "received another campaign today; eligible again on 2026-12-29"
    assert reserved == "reserved for another campaign today; eligible again on 2026-12-29"


def test_only_the_organizations_own_campaigns_are_named() -> None:
    assert shown_name("Ours", holder_organization_id=1, organization_id=1) == "Ours"
    assert shown_name("Theirs", holder_organization_id=2, organization_id=1) is None
    assert shown_name("Deleted", holder_organization_id=None, organization_id=1) is None
