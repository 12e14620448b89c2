"""Run the campaignd command line as if it were another time: ``python -m
tests.integration.shifted_clock 2026-12-10T08:00:00+00:00 serve --role worker --burst``
(the process's ``utcnow`` reads that instant, then moves on with the system clock)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from campaignd.store.columns import Clock


def shift_to(moment: datetime) -> None:
    Clock.shift = moment - datetime.now(UTC)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """This process reads ``moment`` as now (moving on from there) until the block ends."""
    before = Clock.shift
    shift_to(moment)
    try:
        yield
    finally:
        Clock.shift = before


def main() -> None:
    shift_to(datetime.fromisoformat(sys.argv[1]))
    from campaignd.cli import app

    sys.argv = ["campaignd", *sys.argv[2:]]
    app()


if __name__ == "__main__":
    main()
