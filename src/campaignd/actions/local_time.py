"""Schedule a campaign at a local time in each recipient's zone; give it a send window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from campaignd.actions.campaign_timing import local_reading
from campaignd.actions.campaigns import (
    _campaign_in_scope,
    _check_saved_content,
    _transition,
    check_deadline,
)
from campaignd.actions.errors import Invalid
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.domain.lifecycle import Action
from campaignd.domain.local_delivery import (
    DEFAULT_ZONE,
    SendWindow,
    local_time_text,
    parse_local_time,
    zone_named,
)
from campaignd.store.columns import utcnow
from campaignd.store.due_times import Timing, planned_waves, zone_counts
from campaignd.store.rows import Row


def check_local_time(text: str) -> datetime:
    try:
        return parse_local_time(text)
    except ValueError as error:
        raise Invalid(f"localTime: {error}") from None


def check_default_zone(name: str | None) -> str:
    if name is None:
        return DEFAULT_ZONE
    if zone_named(name) is None:
        raise Invalid(
            f"timezone: unknown time zone '{name[:64]}' (an IANA name, like Europe/Berlin)"
        )
    return name


def check_send_window(document: Any) -> dict[str, Any] | None:
    """A send window as stored (None: no window); Invalid names the field at fault."""
    if document is None:
        return None
    try:
        return SendWindow.parse(document).document()
    except ValueError as error:
        raise Invalid(str(error)) from None


async def schedule_local(
    services: Services,
    principal: Principal,
    campaign_id: int,
    local_time: str,
    *,
    timezone: str | None = None,
) -> Row:
    """Schedule at ``local_time`` (``2026-12-10T09:00``) in each recipient's zone (their
    ``timezone`` variable, else ``timezone``, else UTC). The campaign starts, and reserves
    its recipients, at its earliest wave; each delivery is due at its own wave."""
    local = check_local_time(local_time)
    zone = check_default_zone(timezone)
    principal.require_change()
    saved = await _check_saved_content(services, principal, campaign_id)
    now = utcnow()
    async with services.database.connection() as connection:
        current = await _campaign_in_scope(connection, principal, campaign_id)
        planned = current | {"local_time": local_time_text(local), "timezone": zone}
        counts = await zone_counts(connection, planned, now=now)
    waves = planned_waves(planned, counts, now=now)
    timing = Timing.of(planned)
    assert timing is not None
    first = waves[0] if waves else (zone, timing.wave(zone, now), 0)
    if first[1] <= now:
        raise Invalid(
            f"localTime: the first wave ({local_reading(first[1], first[0])}) is in the past;"
            " choose a later time"
        )
    check_deadline(saved, first[1])
    view = await _transition(
        services,
        principal,
        campaign_id,
        Action.SCHEDULE,
        detail={
            "localTime": local_time_text(local),
            "timezone": zone,
            "scheduledFor": first[1].isoformat(),
        },
        scheduled_for=first[1],
        timezone=zone,
        local_time=local_time_text(local),
        status_reason=None,
    )
    await services.wakeups.notify("scheduler")
    return view


async def set_send_window(
    services: Services, principal: Principal, campaign_id: int, document: Any
) -> Row:
    """Give a draft or scheduled campaign a send window (None: remove it)."""
    window = check_send_window(document)
    return await _transition(
        services,
        principal,
        campaign_id,
        Action.EDIT,
        detail={"sendWindow": window},
        send_window=window,
    )
