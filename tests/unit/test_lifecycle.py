"""The transition table, exhaustively: every action from every status, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from campaignd.domain.lifecycle import (
    TRANSITIONS,
    Action,
    CampaignStatus,
    allowed_from,
    is_allowed,
    refusal,
    target_of,
)

S = CampaignStatus
EVERY_STATUS = tuple(CampaignStatus)

EXPECTED: dict[Action, dict[CampaignStatus, CampaignStatus]] = {
    Action.SCHEDULE: {S.DRAFT: S.SCHEDULED, S.SCHEDULED: S.SCHEDULED, S.MISSED: S.SCHEDULED},
    Action.UNSCHEDULE: {S.SCHEDULED: S.DRAFT},
    Action.START_DUE: {S.SCHEDULED: S.SENDING},
    Action.MISS: {S.SCHEDULED: S.MISSED},
    Action.EXECUTE: {S.DRAFT: S.SENDING, S.SCHEDULED: S.SENDING, S.MISSED: S.SENDING},
    Action.PAUSE: {S.SENDING: S.PAUSED},
    Action.RESUME: {S.PAUSED: S.SENDING},
    Action.CANCEL: {S.SCHEDULED: S.CANCELLED, S.SENDING: S.CANCELLED, S.PAUSED: S.CANCELLED},
    Action.FINISH: {S.SENDING: S.SENT},
    Action.EDIT: {S.DRAFT: S.DRAFT, S.SCHEDULED: S.SCHEDULED},
    Action.DELETE: {S.DRAFT: S.DRAFT},
    Action.ADD_RECIPIENTS: {S.DRAFT: S.DRAFT, S.SCHEDULED: S.SCHEDULED},
}
"""SPEC section 3, written out by hand: action -> {from: to}; anything missing is refused."""

EVERY_PAIR = list(itertools.product(tuple(Action), EVERY_STATUS))


def test_every_action_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize(("action", "status"), EVERY_PAIR, ids=lambda value: str(value))
def test_action_from_status(action: Action, status: CampaignStatus) -> None:
    expected = EXPECTED[action].get(status)

    assert is_allowed(action, status) is (expected is not None)
    assert (status in allowed_from(action)) is (expected is not None)
    if expected is None:
        with pytest.raises(ValueError, match=f"cannot {action.value.replace('_', ' ')}"):
            target_of(action, status)
    else:
        assert target_of(action, status) is expected


@pytest.mark.parametrize("status", [S.SENT, S.FAILED, S.CANCELLED])
def test_final_statuses_allow_nothing_that_changes_status(status: CampaignStatus) -> None:
    assert [action for action in Action if is_allowed(action, status)] == []


def test_execute_now_only_from_draft_scheduled_or_missed() -> None:
    assert allowed_from(Action.EXECUTE) == {S.DRAFT, S.SCHEDULED, S.MISSED}


def test_refusal_names_the_action_the_status_and_what_is_allowed() -> None:
    assert refusal(Action.EXECUTE, S.SENT) == (
        "cannot execute a campaign that is sent; allowed only when draft, missed, scheduled"
    )
