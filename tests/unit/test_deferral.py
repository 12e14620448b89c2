"""The deferral's checks and words (``domain.deferral``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaignd.domain.cooldown import cooldown_reason
from campaignd.domain.deferral import (
    DeferralProblem,
    check_deadline_after,
    checked_deferral,
    deferred_reason,
    too_late_reason,
)
from campaignd.domain.frequency import Rule, capped_cause

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_skip_has_no_deadline_and_defer_needs_one() -> None:
    assert checked_deferral("skip", None, starts=NOW, now=NOW) == ("skip", None)
    later = NOW + timedelta(days=3)
    assert checked_deferral("defer", later, starts=NOW, now=NOW) == ("defer", later)
    with pytest.raises(DeferralProblem, match=r"^deferUntil: required"):
        checked_deferral("defer", None, starts=NOW, now=NOW)
    with pytest.raises(DeferralProblem, match=r"^deferUntil: goes with cappedRecipients defer"):
        checked_deferral("skip", later, starts=NOW, now=NOW)
    with pytest.raises(DeferralProblem, match=r"^cappedRecipients: must be skip or defer"):
        checked_deferral("sometimes", later, starts=NOW, now=NOW)


@pytest.mark.parametrize(
    ("until", "starts", "words"),
    [
        (NOW, NOW, "is not after now"),
        (NOW + timedelta(days=1), NOW + timedelta(days=2), "is not after the campaign's start"),
        (NOW + timedelta(days=367), NOW, "at most 366 days"),
        (datetime(2026, 12, 20, 9, 0), NOW, "needs a time zone offset"),
    ],
)
def test_a_deadline_falls_after_the_start(until: datetime, starts: datetime, words: str) -> None:
    with pytest.raises(DeferralProblem, match=f"^deferUntil: .*{words}"):
        checked_deferral("defer", until, starts=starts, now=NOW)


def test_a_start_at_the_deadline_is_refused() -> None:
    campaign = {"capped_recipients": "defer", "defer_until": NOW}
    check_deadline_after(campaign, NOW - timedelta(seconds=1))
    check_deadline_after({"capped_recipients": "skip", "defer_until": None}, NOW)
    with pytest.raises(DeferralProblem, match="is not after the campaign's start"):
        check_deadline_after(campaign, NOW)


def test_reasons_give_the_instant_and_the_cause() -> None:
    cause = capped_cause(
        Rule(1, 7),
        campaign_name="Spring",
        contacted_at=NOW - timedelta(days=5),
        count=1,
        now=NOW,
        sent=True,
    )
    assert cause == "received 'Spring' 5 days ago (at most 1 per 7 days)"
    free = NOW + timedelta(days=2)
    assert deferred_reason(free, cause) == (
        "deferred until 2026-12-04T12:00:00Z: received 'Spring' 5 days ago (at most 1 per 7 days)"
    )
    assert too_late_reason(free, cause, deadline=NOW + timedelta(days=1)) == (
        "received 'Spring' 5 days ago (at most 1 per 7 days); could go out at"
        " 2026-12-04T12:00:00Z, after the deferral deadline 2026-12-03T12:00:00Z"
    )


def test_a_message_deferred_to_later_is_worded_with_its_date() -> None:
    reason = cooldown_reason(
        campaign_name="Winter",
        contacted_at=NOW + timedelta(days=2),
        cooldown_days=7,
        now=NOW,
        sent=False,
    )
    assert reason == "reserved for 'Winter' on 2026-12-04 (deferred); eligible again on 2026-12-11"
