"""Campaign definitions from a YAML or JSON file, and times given on the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from campaignd.actions.campaigns import CampaignContent
from campaignd.domain.content import LayoutChoice
from campaignd.domain.local_times import SkippedTime, resolve
from campaignd.domain.nul_characters import NUL, NUL_PROBLEM, nul_place
from campaignd.domain.recipients import (
    DEFAULT_LIMITS,
    RecipientLimits,
    RecipientList,
    RecipientListError,
    from_json,
)

FIELDS = {
    "name": "name",
    "subject": "subject",
    "htmlbody": "htmlBody",
    "textbody": "textBody",
    "htmlfile": "html_file",
    "textfile": "text_file",
    "fromaddress": "fromAddress",
    "replyto": "replyTo",
    "organization": "organization",
    "recipients": "recipients",
    "lists": "lists",
    "segments": "segments",
    "scheduledfor": "scheduledFor",
    "timezone": "timezone",
    "bodyformat": "bodyFormat",
    "layout": "layout",
    "trackclicks": "trackClicks",
    "trackopens": "trackOpens",
}
"""Accepted keys, compared without case and underscores (``html_file`` = ``htmlFile``)."""


class CampaignFileError(ValueError):
    """The file cannot be used; the message names the file and the field."""


class TimeError(ValueError):
    """A time given by the user cannot be used; the message says how to write it."""


@dataclass(frozen=True)
class CampaignFile:
    content: CampaignContent
    organization: str | None
    recipients: RecipientList | None
    recipients_csv: Path | None
    scheduled_for: datetime | None
    scheduled_note: str | None = None
    lists: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedTime:
    moment: datetime
    note: str | None = None
    """Said when the local time happens twice: which of the two instants it is."""


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_time(
    value: str | datetime | date,
    *,
    timezone: str | None,
    option: str,
    fold: int = 0,
    fold_option: str | None = None,
) -> ParsedTime:
    """An aware time from ISO 8601 with an offset, or a local time plus an IANA time zone.

    ``option`` names where the time zone can be given, ``fold_option`` where the second
    of a local time that happens twice can be chosen, for the messages.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date) or _is_date(value.strip()):
        raise TimeError(
            f"'{value}' is a date without a time of day: write the time too, "
            f"e.g. '{value} 09:00' (with {option}) or {value}T09:00:00+01:00"
        )
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TimeError(
                f"'{value}' is not a time: write '2026-12-01 09:00' (with {option}) "
                "or ISO 8601 with an offset like 2026-12-01T09:00:00+01:00"
            ) from None
    if moment.tzinfo is not None:
        if timezone:
            raise TimeError(f"'{value}' already has an offset; drop {option} or the offset")
        return ParsedTime(moment)
    if not timezone:
        raise TimeError(
            f"'{value}' has no time zone: add {option} (e.g. Europe/Berlin) "
            "or an offset like +01:00"
        )
    return _localise(moment, timezone, option, fold=fold, fold_option=fold_option)


def _offset(moment: datetime) -> str:
    return moment.isoformat()[-6:]


def _instant(moment: datetime) -> str:
    """``02:30 CEST (+02:00) = 00:30 UTC``"""
    utc = moment.astimezone(ZoneInfo("UTC"))
    return f"{moment:%H:%M} {moment.tzname()} ({_offset(moment)}) = {utc:%Y-%m-%d %H:%M} UTC"


def _localise(
    moment: datetime, timezone: str, option: str, *, fold: int, fold_option: str | None
) -> ParsedTime:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(
            f"{option}: unknown time zone '{timezone}' (use an IANA name like Europe/Berlin)"
        ) from None
    try:
        local = resolve(moment, zone, timezone, fold=fold)
    except SkippedTime as skipped:
        change = skipped.change
        raise TimeError(
            f"{moment:%Y-%m-%d %H:%M} does not exist in {timezone}: the clocks go forward "
            f"from {change.from_local:%H:%M} to {change.to_local:%H:%M} that night "
            f"({change.before.tzname()} {_offset(change.before)} to "
            f"{change.after.tzname()} {_offset(change.after)}); choose a time before "
            f"{change.from_local:%H:%M} or from {change.to_local:%H:%M}"
        ) from None
    if local.other is None or local.change is None:
        return ParsedTime(local.moment)
    which, other = ("first", "second") if fold == 0 else ("second", "first")
    choose = f"{fold_option} {1 - fold} or " if fold_option else ""
    note = (
        f"{moment:%Y-%m-%d %H:%M} happens twice in {timezone} (the clocks go back from "
        f"{local.change.from_local:%H:%M} to {local.change.to_local:%H:%M}): taken as the "
        f"{which}, {_instant(local.moment)}; for the {other}, {_instant(local.other)}, "
        f"use {choose}the offset: {local.other.isoformat()}"
    )
    return ParsedTime(local.moment, note)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CampaignFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise CampaignFileError(f"{path} is not valid {kind}: {error}") from None
    if not isinstance(data, dict):
        raise CampaignFileError(f"{path}: expected a mapping of fields (name, subject, ...)")
    place = nul_place(data)
    if place is not None:
        raise CampaignFileError(f"{path}: {place}: {NUL_PROBLEM}")
    fields: dict[str, Any] = {}
    for key, value in data.items():
        canonical = FIELDS.get(str(key).replace("_", "").lower())
        if canonical is None:
            known = ", ".join(sorted(set(FIELDS.values())))
            raise CampaignFileError(f"{path}: unknown field '{key}' (known: {known})")
        fields[canonical] = value
    return fields


def _text_field(fields: dict[str, Any], name: str, path: Path) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CampaignFileError(f"{path}: {name} must be text")
    return value


def _body(fields: dict[str, Any], inline: str, file_field: str, path: Path) -> str | None:
    body = _text_field(fields, inline, path)
    body_file = _text_field(fields, file_field, path)
    if body is not None and body_file is not None:
        raise CampaignFileError(f"{path}: give {inline} or {file_field}, not both")
    if body_file is None:
        return body
    target = path.parent / body_file
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as error:
        raise CampaignFileError(
            f"{path}: {file_field}: cannot read {target}: {error.strerror}"
        ) from None
    if NUL in text:
        raise CampaignFileError(f"{path}: {file_field}: {target} {NUL_PROBLEM}")
    return text


def _names(fields: dict[str, Any], name: str, path: Path) -> tuple[str, ...]:
    """``lists`` or ``segments``: a list of names (one name alone is taken as a list of one)."""
    value = fields.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise CampaignFileError(f"{path}: {name} must be a list of names")
    return tuple(dict.fromkeys(value))


def _recipients(
    fields: dict[str, Any], path: Path, limits: RecipientLimits
) -> tuple[RecipientList | None, Path | None]:
    value = fields.get("recipients")
    if value is None:
        return None, None
    if isinstance(value, str):
        csv_path = path.parent / value
        if not csv_path.is_file():
            raise CampaignFileError(f"{path}: recipients: no file {csv_path}")
        return None, csv_path
    if isinstance(value, list):
        try:
            return from_json(value, limits), None
        except RecipientListError as error:
            raise CampaignFileError(f"{path}: {error}") from None
    raise CampaignFileError(f"{path}: recipients must be a list of addresses or a CSV file path")


def _switch(fields: dict[str, Any], name: str, path: Path, *, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CampaignFileError(f"{path}: {name} must be true or false")
    return value


def load_campaign_file(path: Path, limits: RecipientLimits = DEFAULT_LIMITS) -> CampaignFile:
    fields = _read(path)
    recipients, recipients_csv = _recipients(fields, path, limits)
    scheduled = None
    if fields.get("scheduledFor") is not None:
        try:
            scheduled = parse_time(
                fields["scheduledFor"],
                timezone=_text_field(fields, "timezone", path),
                option="a 'timezone' field",
            )
        except TimeError as error:
            raise CampaignFileError(f"{path}: scheduledFor: {error}") from None
    content = CampaignContent(
        name=_text_field(fields, "name", path) or "",
        subject=_text_field(fields, "subject", path) or "",
        html_body=_body(fields, "htmlBody", "html_file", path),
        text_body=_body(fields, "textBody", "text_file", path),
        from_address=_text_field(fields, "fromAddress", path),
        reply_to=_text_field(fields, "replyTo", path),
        body_format=_text_field(fields, "bodyFormat", path) or "html",
        layout=(
            _text_field(fields, "layout", path)
            if "layout" in fields
            else LayoutChoice.ORGANIZATION_DEFAULT
        ),
        track_clicks=_switch(fields, "trackClicks", path, default=True),
        track_opens=_switch(fields, "trackOpens", path, default=False),
    )
    return CampaignFile(
        content=content,
        organization=_text_field(fields, "organization", path),
        recipients=recipients,
        recipients_csv=recipients_csv,
        scheduled_for=None if scheduled is None else scheduled.moment,
        scheduled_note=None if scheduled is None else scheduled.note,
        lists=_names(fields, "lists", path),
        segments=_names(fields, "segments", path),
    )
