"""Words and dates of the frequency cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta


def eligible_again(contacted_at: datetime, cooldown_days: int) -> datetime:
    return contacted_at + timedelta(days=cooldown_days)


def cooldown_reason(
    *,
    campaign_name: str | None,
    contacted_at: datetime,
    cooldown_days: int,
    now: datetime,
    sent: bool,
) -> str:
    """``received 'Winter Event' 15 days ago; eligible again on 2027-01-12``.

    Without a name (``None``: the campaign of another organization, or one nobody can tell
    the organization of any more) it says ``received another campaign 15 days ago; ...``.
    """
    again = eligible_again(contacted_at, cooldown_days).date().isoformat()
    when = when_words(contacted_at, now)
    holder = "another campaign" if campaign_name is None else f"'{campaign_name}'"
    if sent:
        return f"received {holder} {when}; eligible again on {again}"
    return f"reserved for {holder} {when}; eligible again on {again}"


def when_words(contacted_at: datetime, now: datetime) -> str:
    """``today``, ``1 day ago``, ``15 days ago``; a message deferred to a later instant
    (``domain.deferral``): ``on 2026-12-09 (deferred)``."""
    if contacted_at > now:
        return f"on {contacted_at.date().isoformat()} (deferred)"
    days = (now - contacted_at).days
    return "today" if days == 0 else ("1 day ago" if days == 1 else f"{days} days ago")


def shown_name(
    campaign_name: str | None, *, holder_organization_id: int | None, organization_id: int
) -> str | None:
    """The holding campaign's name as ``organization_id`` may see it: only its own campaigns
    are named; another organization's (or one whose organization is unknown) is not."""
    if holder_organization_id is None or holder_organization_id != organization_id:
        return None
    return campaign_name


SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual")


def suppressed_reason(reason: str) -> str:
    return f"on the suppression list ({reason})"
