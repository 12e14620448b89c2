"""Reading the campaign form: content fields, the schedule (date, time, zone) and a CSV file."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile

from campaignd.actions.campaigns import CONTENT_FIELDS, CampaignContent, recipient_limits
from campaignd.domain.recipients import RecipientList, RecipientListError, from_csv
from campaignd.settings import Settings
from campaignd.web.timezones import BadTime, to_utc, wall_text, zone_named


class FormProblem(ValueError):
    """Something in the form cannot be read; the message starts with the field's name
    (``date: ...``), as ``campaignd.web.form_errors`` reads it."""


@dataclass(frozen=True)
class CampaignForm:
    values: dict[str, str]
    """Everything as typed, to fill the form again after a problem."""
    content: CampaignContent
    organization: str | None
    chosen: ChosenTime | None
    """When to send it, and the zone it was chosen in; None: keep a draft."""
    csv_name: str | None
    csv_text: str | None
    deferral: tuple[str, datetime | None] | None = None
    """What becomes of capped recipients, ``(skip|defer, deadline)``; None: the form did
    not show the choice (left as it is)."""

    @property
    def scheduled_for(self) -> datetime | None:
        return None if self.chosen is None else self.chosen.moment


def text_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


@dataclass(frozen=True)
class ChosenTime:
    moment: datetime
    """Aware, in UTC."""
    zone: str
    """The time zone it was chosen in, checked (``UTC`` when none was given)."""

    def local_text(self) -> str:
        """``Thursday 10 December 2026, 09:00 (Europe/Berlin)``."""
        local = self.moment.astimezone(zone_named(self.zone))
        return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({self.zone})"

    def check_future(self, now: datetime) -> None:
        """Refuse a time in the past, in the words it was typed in: ``14:00 on 1 January
        2025 (Europe/Berlin) is in the past``."""
        if self.moment <= now:
            local = self.moment.astimezone(zone_named(self.zone))
            raise FormProblem(
                f"date: {wall_text(local)} ({self.zone}) is in the past; choose a later time"
            )


def chosen_time(form: FormData) -> ChosenTime | None:
    """The chosen moment and zone, or None when no date is given (the campaign stays a draft).

    Date, time and zone are all checked here, before anything is written.
    """
    day, clock = text_of(form, "date").strip(), text_of(form, "time").strip()
    if not day and not clock:
        return None
    if not day:
        raise FormProblem("date: choose a date too, or clear the time to keep a draft")
    zone = text_of(form, "timezone") or "UTC"
    try:
        return ChosenTime(to_utc(day, clock or "00:00", zone), zone)
    except BadTime as problem:
        raise FormProblem(str(problem)) from None


async def csv_of(form: FormData, field: str = "recipients") -> tuple[str | None, str | None]:
    """(file name, text) of an uploaded CSV, or (None, None) when no file was chosen."""
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, None
    data = await upload.read()
    if not data.strip():
        return upload.filename, None
    try:
        return upload.filename, data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return upload.filename, data.decode("cp1252")
        except UnicodeDecodeError:
            raise FormProblem("recipients: the file is not text (save it as CSV, UTF-8)") from None


async def recipients_of(csv_text: str, settings: Settings) -> RecipientList:
    """The uploaded CSV as a recipient list, parsed off the event loop with the limits of
    ``settings`` (the same reader and limits as the API and the CLI)."""
    try:
        return await asyncio.to_thread(from_csv, csv_text, recipient_limits(settings))
    except RecipientListError as problem:
        raise FormProblem(f"recipients: {problem}") from None


def _content_choices(form: FormData) -> dict[str, Any]:
    """The body format and the layout ("": none); a form without the layout picker leaves
    the organization's default (a new campaign) or the campaign's layout as it is."""
    choices: dict[str, Any] = {"body_format": text_of(form, "body_format") or "html"}
    layout = form.get("layout")
    if isinstance(layout, str):
        choices["layout"] = layout.strip() or None
    return choices


def chosen_deferral(form: FormData) -> tuple[str, datetime | None] | None:
    """The "when a frequency rule caps someone" choice: skip, or defer until a date and
    time read in the form's time zone (the schedule's). None when the form has no choice."""
    if form.get("capped_shown") is None:
        return None
    capped = text_of(form, "capped_recipients") or "skip"
    if capped != "defer":
        return capped, None
    typed = text_of(form, "defer_until").strip()
    if not typed:
        raise FormProblem("deferUntil: choose the date and time deferred messages must go by")
    day, _, clock = typed.partition("T")
    zone = text_of(form, "timezone") or "UTC"
    try:
        return capped, to_utc(day, clock or "00:00", zone)
    except BadTime as problem:
        words = str(problem).split(": ", 1)[-1]
        raise FormProblem(f"deferUntil: {words}") from None


def deferral_values(campaign: dict[str, Any] | None, zone: str | None) -> dict[str, str]:
    """The deferral fields showing a campaign's choice, its deadline in ``zone``."""
    if campaign is None:
        return {}
    values = {"capped_recipients": str(campaign.get("capped_recipients") or "skip")}
    deadline = campaign.get("defer_until")
    if deadline is not None:
        local = deadline.astimezone(zone_named(zone or "UTC"))
        values["defer_until"] = f"{local:%Y-%m-%dT%H:%M}"
    return values


async def campaign_form(form: FormData) -> CampaignForm:
    values = {name: text_of(form, name) for name in (*CONTENT_FIELDS, "organization")}
    values |= {name: text_of(form, name) for name in ("date", "time", "timezone")}
    values |= {name: text_of(form, name) for name in ("capped_recipients", "defer_until")}
    content = CampaignContent(
        name=values["name"].strip(),
        subject=values["subject"].strip(),
        html_body=_optional(values["html_body"]),
        text_body=_optional(values["text_body"]),
        from_address=_optional(values["from_address"]),
        reply_to=_optional(values["reply_to"]),
        **_content_choices(form),
        track_clicks=bool(values["track_clicks"]),
        track_opens=bool(values["track_opens"]),
    )
    csv_name, csv_text = await csv_of(form)
    return CampaignForm(
        values=values,
        content=content,
        organization=_optional(values["organization"]),
        chosen=chosen_time(form),
        csv_name=csv_name,
        csv_text=csv_text,
        deferral=chosen_deferral(form),
    )
