"""Campaign and delivery statuses, and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    BOUNCED = "bounced"
    """Sent, then a hard bounce came back (``actions.feedback``)."""
    COMPLAINED = "complained"
    """Sent, then its recipient reported it as spam (``actions.feedback``)."""


class SkipCode(StrEnum):
    COOLDOWN = "cooldown"
    SUPPRESSED = "suppressed"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


class Action(StrEnum):
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    START_DUE = "start_due"
    MISS = "miss"
    EXECUTE = "execute"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    FINISH = "finish"
    EDIT = "edit"
    DELETE = "delete"
    ADD_RECIPIENTS = "add_recipients"


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


S = CampaignStatus

TRANSITIONS: dict[Action, tuple[frozenset[CampaignStatus], CampaignStatus | None]] = {
    Action.SCHEDULE: (frozenset({S.DRAFT, S.SCHEDULED, S.MISSED}), S.SCHEDULED),
    Action.UNSCHEDULE: (frozenset({S.SCHEDULED}), S.DRAFT),
    Action.START_DUE: (frozenset({S.SCHEDULED}), S.SENDING),
    Action.MISS: (frozenset({S.SCHEDULED}), S.MISSED),
    Action.EXECUTE: (frozenset({S.DRAFT, S.SCHEDULED, S.MISSED}), S.SENDING),
    Action.PAUSE: (frozenset({S.SENDING}), S.PAUSED),
    Action.RESUME: (frozenset({S.PAUSED}), S.SENDING),
    Action.CANCEL: (frozenset({S.SCHEDULED, S.SENDING, S.PAUSED}), S.CANCELLED),
    Action.FINISH: (frozenset({S.SENDING}), S.SENT),
    Action.EDIT: (frozenset({S.DRAFT, S.SCHEDULED}), None),
    Action.DELETE: (frozenset({S.DRAFT}), None),
    Action.ADD_RECIPIENTS: (frozenset({S.DRAFT, S.SCHEDULED}), None),
}
"""action -> (statuses it is allowed from, status it leads to; None keeps the status)."""

FINAL_DELIVERY_STATUSES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.CANCELLED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.COMPLAINED,
    }
)


def allowed_from(action: Action) -> frozenset[CampaignStatus]:
    """Statuses from which ``action`` may be taken."""
    return TRANSITIONS[action][0]


def target_of(action: Action, current: CampaignStatus) -> CampaignStatus:
    """The status ``action`` leads to from ``current``; raises ValueError when not allowed."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise ValueError(f"cannot {action.value.replace('_', ' ')} a {current.value} campaign")
    return target if target is not None else current


def is_allowed(action: Action, current: CampaignStatus) -> bool:
    return current in TRANSITIONS[action][0]


def refusal(action: Action, current: CampaignStatus | str) -> str:
    """The words of a 409: what was asked and why it cannot be done now."""
    allowed = ", ".join(sorted(status.value for status in allowed_from(action)))
    verb = action.value.replace("_", " ")
    return f"cannot {verb} a campaign that is {current}; allowed only when {allowed}"
