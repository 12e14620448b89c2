"""How a delivery waiting to be sent is stored, and how it is shown.

Fan-out writes only the recipients it skips. Every other delivery keeps its stored
``pending`` status, and the campaign's ``fanned_out_at`` turns all of them into the queue
at once: a stored ``pending`` delivery of a fanned-out campaign is shown and counted as
``queued``. Retries and deliveries handed back unsent are stored ``pending`` again.
This spares fan-out a new row version and its index entries per eligible recipient.
"""

from __future__ import annotations

from campaignd.domain.lifecycle import DeliveryStatus

WAITING = DeliveryStatus.PENDING.value
QUEUED = DeliveryStatus.QUEUED.value


def shown_status(stored: str, *, fanned_out: bool) -> str:
    """The status a user sees for a delivery stored as ``stored``."""
    return QUEUED if fanned_out and stored == WAITING else stored


def stored_status(shown: str, *, fanned_out: bool) -> str | None:
    """The stored status of deliveries shown as ``shown``; None when none can be."""
    if shown == QUEUED:
        return WAITING if fanned_out else None
    if shown == WAITING:
        return None if fanned_out else WAITING
    return shown


def shown_counts(stored: dict[str, int], *, fanned_out: bool) -> dict[str, int]:
    """Counts per stored status, as counts per shown status."""
    counts: dict[str, int] = {}
    for status, count in stored.items():
        shown = shown_status(status, fanned_out=fanned_out)
        counts[shown] = counts.get(shown, 0) + count
    return counts
