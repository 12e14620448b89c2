"""Bounces and complaints: what comes back after a message was sent, and what it means.

Every intake (the bounce mailbox, each provider's webhook) turns what it receives into
``FeedbackEvent``s; ``actions.feedback`` applies them. Pure: no I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from campaignd.domain.nul_characters import NUL

COMPLAINT_PAUSE_RATE = 0.003
"""Gmail's and Yahoo's ceiling for spam complaints (0.3 %): a campaign above it pauses."""


class FeedbackKind(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"


class FeedbackSource(StrEnum):
    MAILBOX = "mailbox"
    SES = "ses"
    POSTMARK = "postmark"
    SENDGRID = "sendgrid"
    MAILGUN = "mailgun"


@dataclass(frozen=True)
class FeedbackEvent:
    """One bounce or complaint for one recipient.

    ``event_id`` is the intake's own id of the event (a DSN's Message-ID, SES's
    ``feedbackId``...) together with the address, so the same event arriving twice is
    recognised. ``delivery_id`` is known when a VERP token, our Message-ID or the
    provider's metadata survived; otherwise ``email`` and ``organization_id`` name the
    address (the organization from the webhook's URL).
    """

    source: FeedbackSource
    event_id: str
    kind: FeedbackKind
    email: str | None = None
    delivery_id: int | None = None
    organization_id: int | None = None
    detail: str | None = None

    def storable(self) -> FeedbackEvent:
        """This event with every NUL character in its text made U+FFFD (``storable``)."""
        return replace(
            self,
            event_id=storable(self.event_id),
            email=None if self.email is None else storable(self.email),
            detail=None if self.detail is None else storable(self.detail),
        )


def storable(text: str) -> str:
    """``text`` without the NUL character, which PostgreSQL stores in no text column: what a
    provider or a DSN sends is kept (a diagnostic may hold one), never refused for it."""
    return text.replace(NUL, "\ufffd") if NUL in text else text


@dataclass(frozen=True)
class Thresholds:
    complaint_rate: float = COMPLAINT_PAUSE_RATE
    hard_bounce_rate: float = 0.05
    minimum_sent: int = 1000


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def pause_reason(
    *, sent: int, hard_bounces: int, complaints: int, limits: Thresholds
) -> str | None:
    """Why a campaign with these figures must pause, or None. Rates count only once
    ``minimum_sent`` messages went out, so three bounces among the first ten do not stop
    a campaign of a million."""
    if sent < limits.minimum_sent:
        return None
    complaint_rate = rate(complaints, sent)
    if complaint_rate > limits.complaint_rate:
        return (
            f"paused: complaint rate {complaint_rate:.2%} ({complaints} of {sent} sent) "
            f"is above {limits.complaint_rate:.2%}"
        )
    bounce_rate = rate(hard_bounces, sent)
    if bounce_rate > limits.hard_bounce_rate:
        return (
            f"paused: hard-bounce rate {bounce_rate:.2%} ({hard_bounces} of {sent} sent) "
            f"is above {limits.hard_bounce_rate:.2%}"
        )
    return None


STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such user|does not exist|mailbox unavailable|"
    r"invalid recipient|recipient address rejected|no mailbox",
    re.IGNORECASE,
)


def kind_of_status(action: str, status: str, diagnostic: str = "") -> FeedbackKind | None:
    """The kind of one DSN recipient (RFC 3464 ``Action`` and RFC 3463 ``Status``): hard
    for a permanent address failure (5.1.x, 5.4.4, or a 5.x.x saying the user is unknown);
    soft for other permanent or transient failures except policy ones (X.7.x, which
    say more about the sender than the address); None for ``delayed``, ``delivered``...
    """
    if not action.strip().lower().startswith("fail"):
        return None
    match = STATUS_CODE.search(status) or STATUS_CODE.search(diagnostic)
    if match is None:
        return FeedbackKind.HARD_BOUNCE if UNKNOWN_USER.search(diagnostic) else None
    klass, subject, detail = match.groups()
    if subject == "7":
        return None
    if klass == "5" and (subject == "1" or (subject, detail) == ("4", "4")):
        return FeedbackKind.HARD_BOUNCE
    if klass == "5" and UNKNOWN_USER.search(diagnostic):
        return FeedbackKind.HARD_BOUNCE
    return FeedbackKind.SOFT_BOUNCE


MESSAGE_ID = re.compile(r"<?(\d+)\.(\d+)\.([A-Za-z0-9_-]+)@[^>\s]+>?")


def delivery_of_message_id(message_id: str, installation: str) -> int | None:
    """The delivery id in one of our Message-IDs
    (``<{campaignId}.{deliveryId}.{installation}@{domain}>``), or None when it is not one of
    this installation's."""
    match = MESSAGE_ID.fullmatch(message_id.strip())
    if match is None or match.group(3) != installation:
        return None
    return int(match.group(2))


@dataclass(frozen=True)
class CampaignFigures:
    """What became of a campaign's messages once they went out."""

    sent: int = 0
    """Messages that went out (``delivered`` + ``hard_bounces``)."""
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unsubscribed: int = 0
    """Recipients who unsubscribed after it reached them."""

    @property
    def delivered(self) -> int:
        return max(self.sent - self.hard_bounces, 0)

    @property
    def hard_bounce_rate(self) -> float:
        return rate(self.hard_bounces, self.sent)

    @property
    def soft_bounce_rate(self) -> float:
        return rate(self.soft_bounces, self.sent)

    @property
    def complaint_rate(self) -> float:
        return rate(self.complaints, self.sent)

    @property
    def unsubscribe_rate(self) -> float:
        return rate(self.unsubscribed, self.sent)
