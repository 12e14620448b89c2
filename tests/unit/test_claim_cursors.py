"""Where a campaign's next claim starts: after the last id, over again when it runs short
or after ``RESTART_SECONDS``."""

from __future__ import annotations

from campaignd.delivery.claim_cursors import RESTART_SECONDS, ClaimCursors


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_claim_moves_the_cursor_after_its_last_id() -> None:
    cursors = ClaimCursors(Clock())
    assert cursors.after(7) == 0
    cursors.claimed(7, [3, 5, 4], limit=3)
    assert cursors.after(7) == 5
    assert cursors.after(8) == 0  # per campaign


def test_a_short_claim_starts_over_from_the_beginning() -> None:
    cursors = ClaimCursors(Clock())
    cursors.claimed(7, [1, 2, 3], limit=3)
    cursors.claimed(7, [9], limit=3)
    assert cursors.after(7) == 0
    cursors.claimed(7, [10, 11], limit=2)
    cursors.claimed(7, [], limit=2)
    assert cursors.after(7) == 0


def test_the_cursor_starts_over_after_restart_seconds_however_full_the_claims() -> None:
    clock = Clock()
    cursors = ClaimCursors(clock)
    cursors.claimed(7, [1, 2], limit=2)
    clock.now += RESTART_SECONDS - 1
    cursors.claimed(7, [3, 4], limit=2)  # the run goes on: its start stays
    assert cursors.after(7) == 4
    clock.now += 1
    assert cursors.after(7) == 0
