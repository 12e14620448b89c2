"""The audience's words: contact statuses, list membership statuses, list kinds."""

from __future__ import annotations

from enum import StrEnum


class ContactStatus(StrEnum):
    """Only ``subscribed`` contacts are mailed; each other status has its suppression."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    BLOCKLISTED = "blocklisted"


class MemberStatus(StrEnum):
    """A contact's membership of one list; only ``confirmed`` members are mailed."""

    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Visibility(StrEnum):
    """A public list can be joined from the subscribe form; a private one only by the team."""

    PUBLIC = "public"
    PRIVATE = "private"


class OptIn(StrEnum):
    """Single: a member added is confirmed at once. Double: confirmed by a sealed link."""

    SINGLE = "single"
    DOUBLE = "double"


SUPPRESSION_OF_STATUS: dict[ContactStatus, str] = {
    ContactStatus.UNSUBSCRIBED: "unsubscribed",
    ContactStatus.BOUNCED: "bounced",
    ContactStatus.COMPLAINED: "complained",
    ContactStatus.BLOCKLISTED: "manual",
}
"""The suppression reason that goes with each status a contact is not mailed in."""

STATUS_OF_SUPPRESSION: dict[str, ContactStatus] = {
    reason: status for status, reason in SUPPRESSION_OF_STATUS.items()
}
"""The contact status that goes with each suppression reason."""
