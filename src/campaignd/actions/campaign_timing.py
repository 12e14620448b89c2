"""How a local-time or send-window campaign is shown: its waves and what it waits for."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.deferral import Deferral
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.domain.local_delivery import SendWindow
from campaignd.store.deferral import Deferred, deferred_waiting
from campaignd.store.due_times import (
    Timing,
    Wave,
    named_by,
    named_zones_of,
    planned_waves,
    recipients_naming,
    waiting_for,
    waves,
    zone_counts,
)
from campaignd.store.rows import Row

STARTED = (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value)


def local_reading(moment: datetime, zone: str) -> str:
    """``2026-12-10 09:00 Europe/Berlin (08:00 UTC)``."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone} ({moment:%Y-%m-%d %H:%M} UTC)"


def wave_fields(zone: str, at: datetime, recipients: int) -> dict[str, Any]:
    return {
        "zone": zone,
        "local_time": at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M"),
        "at": at,
        "recipients": recipients,
        "sent": None,
        "queued": None,
        "first_sent_at": None,
        "lateness_seconds": None,
    }


async def campaign_waves(
    connection: AsyncConnection, campaign: Row, *, now: datetime
) -> list[dict[str, Any]]:
    """The waves of a local-time campaign (zone, local time, UTC instant, recipients; and
    once fanned out, sent and queued), soonest first; [] for any other campaign."""
    timing = Timing.of(campaign)
    if timing is None or timing.local is None:
        return []
    if campaign["fanned_out_at"] is None:
        counts = await zone_counts(connection, campaign, now=now)
        return [
            wave_fields(zone, at, count)
            for zone, at, count in planned_waves(campaign, counts, now=now)
        ]
    return [_wave_progress(wave) for wave in await waves(connection, campaign, now=now)]


def _wave_progress(wave: Wave) -> dict[str, Any]:
    lateness = None
    if wave.first_sent_at is not None:
        lateness = max(0.0, (wave.first_sent_at - wave.at).total_seconds())
    return wave_fields(wave.zone, wave.at, wave.recipients) | {
        "sent": wave.sent,
        "queued": wave.queued,
        "first_sent_at": wave.first_sent_at,
        "lateness_seconds": lateness,
    }


def waiting_sentence(campaign: Row, at: datetime, zone: str) -> str:
    """``waiting for the send window, next opens at ...`` or ``waiting for the next wave
    at ...``."""
    timing = Timing.of(campaign)
    if timing is not None and timing.local is not None and at == timing.wave(zone, at):
        return f"waiting for the next wave, at {local_reading(at, zone)}"
    return f"waiting for the send window, next opens at {local_reading(at, zone)}"


def deferred_sentence(deferred: Deferred, zone: str | None, *, lead: str = "waiting for ") -> str:
    """``waiting for 3 deferred recipients, next due at ..., the last at ...`` (``zone``:
    the times read there, else in UTC)."""

    def reading(moment: datetime) -> str:
        return f"{moment:%Y-%m-%d %H:%M} UTC" if zone is None else local_reading(moment, zone)

    if deferred.count == 1:
        return f"{lead}1 deferred recipient, due at {reading(deferred.next_at)}"
    return (
        f"{lead}{deferred.count} deferred recipients, next due at"
        f" {reading(deferred.next_at)}, the last at {reading(deferred.last_at)}"
    )


async def waiting_fields(
    connection: AsyncConnection, campaign: Row, *, now: datetime
) -> tuple[str | None, datetime | None]:
    """Why a started campaign sends nothing now, and until when: a later wave, a closed
    send window, deferred recipients (``store.deferral``); (None, None) when it sends."""
    if campaign["status"] not in STARTED or campaign["fanned_out_at"] is None:
        return None, None
    timing, deferral = Timing.of(campaign), Deferral.of(campaign)
    if timing is None and deferral is None:
        return None, None
    waiting = await waiting_for(connection, int(campaign["id"]), now=now)
    if waiting is None:
        return None, None
    deferred = None
    if deferral is not None:
        deferred = await deferred_waiting(connection, int(campaign["id"]), now=now)
    if deferred is None:
        if waiting.zone is None:
            return None, None
        return waiting_sentence(campaign, waiting.at, waiting.zone), waiting.at
    zone = waiting.zone if timing is not None else None
    if waiting.zone is not None and waiting.at < deferred.next_at:
        first = waiting_sentence(campaign, waiting.at, waiting.zone)
        return f"{first}; {deferred_sentence(deferred, zone, lead='')}", waiting.at
    return deferred_sentence(deferred, zone), waiting.at


async def timing_fields(
    connection: AsyncConnection, campaign: Row, *, now: datetime
) -> dict[str, Any]:
    """The fields a campaign view adds: ``local_time``, ``send_window``, ``waves``
    (first and last, or all), ``waiting`` (a sentence, or None) and ``waiting_until``."""
    window = campaign.get("send_window")
    fields: dict[str, Any] = {
        "send_window": None if window is None else SendWindow.parse(window).document(),
        "waves": [],
        "waiting": None,
        "waiting_until": None,
    }
    if Timing.of(campaign) is not None:
        fields["waves"] = await campaign_waves(connection, campaign, now=now)
    fields["waiting"], fields["waiting_until"] = await waiting_fields(connection, campaign, now=now)
    return fields


async def with_first_and_last_wave(
    connection: AsyncConnection, rows: list[Row], *, now: datetime
) -> list[Row]:
    """Scheduled campaigns (``store.campaigns.upcoming_campaigns`` rows), a local-time one
    with its ``first_wave`` and ``last_wave``."""
    for row in rows:
        row["first_wave"] = row["last_wave"] = None
        if row.get("local_time") is not None:
            found = await campaign_waves(connection, row, now=now)
            if found:
                row["first_wave"], row["last_wave"] = found[0], found[-1]
    return rows


async def with_wave_progress(
    connection: AsyncConnection, rows: list[Row], *, now: datetime
) -> list[Row]:
    """Execution log rows, the newest run of a local-time campaign with its waves'
    progress (``waves``), of a started one what it waits for (``waiting``)."""
    from campaignd.store.campaigns import get_campaign

    seen: set[int] = set()
    for row in rows:
        row["waves"], row["waiting"] = [], None
        campaign_id = int(row["campaign_id"])
        if campaign_id in seen:
            continue
        seen.add(campaign_id)
        campaign = await get_campaign(connection, campaign_id)
        if campaign is None:
            continue
        if campaign.get("local_time") is not None:
            row["waves"] = await campaign_waves(connection, campaign, now=now)
        row["waiting"] = (await waiting_fields(connection, campaign, now=now))[0]
    return rows


async def zone_fallbacks(
    connection: AsyncConnection,
    campaign: Row,
    *,
    limit: int,
    audience: Select[tuple[int, str, Any]] | None,
) -> list[dict[str, str]]:
    """Recipients whose ``timezone`` variable is not a zone (and the contacts of
    ``audience``, its lists and segments before it starts, whose ``timezone`` attribute is
    not): the zone they get instead."""
    timing = Timing.of(campaign)
    if timing is None:
        return []
    named = named_by(connection, int(campaign["id"]), audience)
    names = await named_zones_of(connection, named)
    unknown = [name for name in names if name is not None and timing.zone_for(name)[1]]
    if not unknown:
        return []
    return [
        {"email": email, "given": given, "used": timing.zone}
        for email, given in await recipients_naming(connection, named, unknown, limit=limit)
    ]
