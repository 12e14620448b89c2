"""Deferring the recipients a frequency rule caps, instead of skipping them.

A campaign's ``cappedRecipients`` is ``skip`` (the default: a capped recipient is skipped,
code ``cooldown``) or ``defer``: the delivery waits, queued with the code ``deferred``, until
the instant the rules free a slot for the person (for each rule that caps them, the
``max``-th most recent message counted plus the rule's days; the latest of these), and goes
out then, unless that instant is after the campaign's ``deferUntil``, the deadline: then it
is skipped as it would have been. A deferred delivery not sent by the deadline (its campaign
was paused past it, say) is skipped too, never sent late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SKIP = "skip"
DEFER = "defer"
CHOICES = (SKIP, DEFER)
DEFERRED = "deferred"
"""The code of a delivery a rule deferred (kept once it is sent: it shows it went out late)."""
MAX_DEFERRAL_DAYS = 366
"""A deadline at most this many days after the campaign's start."""
TIME_EXAMPLE = "like 2026-12-20T09:00:00+01:00 or 2026-12-20T08:00:00Z"


class DeferralProblem(ValueError):
    """A ``cappedRecipients`` / ``deferUntil`` pair that cannot be used; the message names
    the field."""


@dataclass(frozen=True)
class Deferral:
    """A campaign that defers capped recipients, until ``until`` at the latest."""

    until: datetime

    @classmethod
    def of(cls, campaign: Mapping[str, Any]) -> Deferral | None:
        """From a campaign row; None for a campaign that skips capped recipients."""
        until = campaign.get("defer_until")
        if campaign.get("capped_recipients") != DEFER or until is None:
            return None
        return cls(until)


def instant_text(moment: datetime) -> str:
    """``2026-12-09T10:00:00Z``: how reasons write an instant (the database writes the same,
    ``store.dialect.iso_utc_text``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_deferral(
    capped: object, until: datetime | None, *, starts: datetime, now: datetime
) -> tuple[str, datetime | None]:
    """``(capped_recipients, defer_until)`` as stored, checked: a deadline goes with
    ``defer`` only, is required there, has an offset, and falls after ``starts`` (the
    campaign's start: its scheduled time, else now) and at most ``MAX_DEFERRAL_DAYS`` after."""
    if capped not in CHOICES:
        raise DeferralProblem("cappedRecipients: must be skip or defer")
    if capped == SKIP:
        if until is not None:
            raise DeferralProblem(
                "deferUntil: goes with cappedRecipients defer (skipped recipients have no deadline)"
            )
        return SKIP, None
    if until is None:
        raise DeferralProblem(
            "deferUntil: required with cappedRecipients defer: the deadline for deferred"
            f" deliveries, {TIME_EXAMPLE}"
        )
    if until.tzinfo is None:
        raise DeferralProblem(f"deferUntil: needs a time zone offset, {TIME_EXAMPLE}")
    starts = max(starts, now)
    if until <= starts:
        what = "now" if starts == now else f"the campaign's start, {instant_text(starts)}"
        raise DeferralProblem(
            f"deferUntil: {instant_text(until)} is not after {what}; choose a later deadline"
        )
    if until > starts + timedelta(days=MAX_DEFERRAL_DAYS):
        raise DeferralProblem(
            f"deferUntil: at most {MAX_DEFERRAL_DAYS} days after the campaign's start"
            f" ({instant_text(starts)})"
        )
    return DEFER, until.astimezone(UTC)


def check_deadline_after(campaign: Mapping[str, Any], starts: datetime) -> None:
    """A campaign that defers capped recipients cannot start at or after its deadline."""
    deadline = campaign.get("defer_until")
    if campaign.get("capped_recipients") != DEFER or deadline is None or starts < deadline:
        return
    raise DeferralProblem(
        f"deferUntil: the deferral deadline {instant_text(deadline)} is not after the"
        f" campaign's start ({instant_text(starts)}); set a later deadline first"
    )


def deferred_reason(until: datetime, cause: str) -> str:
    """``deferred until 2026-12-09T10:00:00Z: received 'Spring' 5 days ago (at most 1 per
    7 days)``; the fan-out writes the same words in SQL (``DEFERRED_UNTIL``)."""
    return f"{DEFERRED_UNTIL}{instant_text(until)}: {cause}"


DEFERRED_UNTIL = "deferred until "


def too_late_reason(at: datetime, cause: str, *, deadline: datetime) -> str:
    """A capped recipient not free before the deadline: ``received 'Spring' 5 days ago (at
    most 1 per 7 days); could go out at 2026-12-09T10:00:00Z, after the deferral deadline
    2026-12-05T12:00:00Z``."""
    return f"{cause}{COULD_GO_OUT_AT}{instant_text(at)}{after_deadline(deadline)}"


COULD_GO_OUT_AT = "; could go out at "


def after_deadline(deadline: datetime) -> str:
    return f", after the deferral deadline {instant_text(deadline)}"


def expired_reason(deadline: datetime) -> str:
    """A deferred delivery still unsent at the deadline (its campaign paused past it)."""
    return f"deferred, but not sent by the deferral deadline {instant_text(deadline)}"
