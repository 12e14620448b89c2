"""Which campaigns a worker may send for: re-read from the database, and told of halts.

A halt (a pause or a cancel, heard in this process or through Redis from another) takes a
campaign out at once, so the check before each transaction costs no database round trip.
A read of the database that started before a halt was heard cannot bring the campaign
back: reads are numbered against halts.
"""

from __future__ import annotations

from collections.abc import Iterable

REMEMBERED_HALTS = 1000


class SendingCampaigns:
    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._halts = 0
        self._halted_at: dict[int, int] = {}

    def reading(self) -> int:
        """Take before reading the sending campaigns from the database."""
        return self._halts

    def update(self, campaign_ids: Iterable[int], reading: int) -> None:
        """The campaigns that were sending when the read numbered ``reading`` was made."""
        recent = {campaign_id for campaign_id, halt in self._halted_at.items() if halt > reading}
        self._ids = set(campaign_ids) - recent

    def halt(self, campaign_id: int) -> None:
        self._halts += 1
        self._halted_at[campaign_id] = self._halts
        self._ids.discard(campaign_id)
        if len(self._halted_at) > REMEMBERED_HALTS:
            oldest = min(self._halted_at, key=self._halted_at.__getitem__)
            del self._halted_at[oldest]

    def __contains__(self, campaign_id: object) -> bool:
        return campaign_id in self._ids

    def ids(self) -> list[int]:
        return sorted(self._ids)
