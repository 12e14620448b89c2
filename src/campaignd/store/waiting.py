"""How a delivery waiting to be sent is stored, named and shown: ``queued``.

A recipient is stored ``queued`` from the moment it is added to a campaign, and fan-out
writes only the recipients it skips: the campaign's ``fanned_out_at`` makes every other
delivery part of the queue at once, without a new row version per recipient. Retries and
deliveries handed back unsent are ``queued`` again.

Until its campaign is fanned out (the audience not yet checked against the cooldown and
the suppression list), a waiting delivery is *shown* ``pending``: that word names the
campaign's state, not another state of the delivery.
"""

from __future__ import annotations

from campaignd.domain.lifecycle import DeliveryStatus

QUEUED = DeliveryStatus.QUEUED.value
PENDING = DeliveryStatus.PENDING.value


def shown_status(stored: str, *, fanned_out: bool) -> str:
    """The status a user sees for a delivery stored as ``stored``."""
    return PENDING if not fanned_out and stored == QUEUED else stored


def stored_status(shown: str, *, fanned_out: bool) -> str | None:
    """The stored status of deliveries shown as ``shown``; None when none can be."""
    if shown == PENDING:
        return None if fanned_out else QUEUED
    if shown == QUEUED:
        return QUEUED if fanned_out else None
    return shown


def shown_counts(stored: dict[str, int], *, fanned_out: bool) -> dict[str, int]:
    """Counts per stored status, as counts per shown status."""
    counts: dict[str, int] = {}
    for status, count in stored.items():
        shown = shown_status(status, fanned_out=fanned_out)
        counts[shown] = counts.get(shown, 0) + count
    return counts
