"""Words and dates of the frequency cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta


def eligible_again(contacted_at: datetime, cooldown_days: int) -> datetime:
    return contacted_at + timedelta(days=cooldown_days)


def cooldown_reason(
    *, campaign_name: str, contacted_at: datetime, cooldown_days: int, now: datetime, sent: bool
) -> str:
    """``received 'Winter Event' 15 days ago; eligible again on 2027-01-12``."""
    again = eligible_again(contacted_at, cooldown_days).date().isoformat()
    days = max(0, (now - contacted_at).days)
    when = "today" if days == 0 else ("1 day ago" if days == 1 else f"{days} days ago")
    if sent:
        return f"received '{campaign_name}' {when}; eligible again on {again}"
    return f"reserved for '{campaign_name}' {when}; eligible again on {again}"


SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual")


def suppressed_reason(reason: str) -> str:
    return f"on the suppression list ({reason})"
