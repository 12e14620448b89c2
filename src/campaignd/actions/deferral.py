"""What becomes of the recipients a frequency rule caps: skipped, or deferred until a
deadline (``domain.deferral``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from campaignd.actions.campaigns import _campaign_in_scope, _transition
from campaignd.actions.errors import Invalid
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.domain.deferral import DEFER, DeferralProblem, checked_deferral
from campaignd.domain.lifecycle import Action, CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row

UNSET: Any = object()
"""A field left out of an edit: unchanged."""


def check_deferral(
    capped: object, until: datetime | None, *, starts: datetime | None = None
) -> tuple[str, datetime | None]:
    """``(capped_recipients, defer_until)`` checked against the campaign's start (its
    scheduled time, else now); Invalid names the field."""
    now = utcnow()
    try:
        return checked_deferral(capped, until, starts=starts or now, now=now)
    except DeferralProblem as error:
        raise Invalid(str(error)) from None


def _start_of(campaign: Row) -> datetime | None:
    if campaign["status"] == CampaignStatus.SCHEDULED.value:
        found: datetime | None = campaign["scheduled_for"]
        return found
    return None


def _resolved(current: Row, capped: Any, until: Any) -> tuple[Any, Any]:
    """The pair an edit sets: a field left out keeps its value; ``skip`` clears the
    deadline."""
    if capped is UNSET:
        capped = current["capped_recipients"]
    if until is UNSET:
        until = current["defer_until"] if capped == DEFER else None
    return capped, until


def check_change(current: Row, *, capped: Any = UNSET, until: Any = UNSET) -> None:
    """Refuse, before anything changes, an edit ``set_deferral`` would refuse."""
    capped, until = _resolved(current, capped, until)
    check_deferral(capped, until, starts=_start_of(current))


async def set_deferral(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    capped: Any = UNSET,
    until: Any = UNSET,
) -> Row:
    """Skip (``skip``) or defer (``defer``, until ``until``) the recipients a rule caps, on
    a draft or scheduled campaign. A field left out keeps its value; ``skip`` clears the
    deadline."""
    async with services.database.connection() as connection:
        current = await _campaign_in_scope(connection, principal, campaign_id)
    capped, until = _resolved(current, capped, until)
    checked, deadline = check_deferral(capped, until, starts=_start_of(current))
    return await _transition(
        services,
        principal,
        campaign_id,
        Action.EDIT,
        detail={
            "cappedRecipients": checked,
            "deferUntil": None if deadline is None else deadline.isoformat(),
        },
        capped_recipients=checked,
        defer_until=deadline,
    )
