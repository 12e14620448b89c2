"""``campaignd campaign``: create, import, schedule, start, stop and watch campaigns."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from campaignd.actions import campaigns as actions
from campaignd.actions import clones, frequency
from campaignd.actions import deferral as deferral_actions
from campaignd.actions import local_time as local_time_actions
from campaignd.actions.campaign_targets import TargetNames
from campaignd.actions.dkim import Signing
from campaignd.actions.errors import Invalid
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli import campaign_tests
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaign_files import (
    CampaignFileError,
    TimeError,
    load_campaign_file,
    parse_time,
)
from campaignd.cli.common import command_group, console, errors, fail, note, settings_or_exit
from campaignd.cli.output import JSON, json_value, print_json, print_table, record
from campaignd.cli.progress import LINE_EVERY, bytes_progress, watch_campaign
from campaignd.cli.reading_process import read_apart
from campaignd.cli.recipient_files import CHUNK_ROWS, ImportTotals, check_header, csv_chunks
from campaignd.domain.deferral import CHOICES, DEFER, SKIP
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.domain.recipients import DELIMITER_NAMES, RecipientListError
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row

app = command_group("Create, schedule, send and watch campaigns.")

CAMPAIGN_ID = typer.Argument(
    ..., metavar="ID", help="The campaign's id (see `campaignd campaign list`)."
)


CAPPED_OPTION = typer.Option(
    None,
    "--capped",
    metavar="skip|defer",
    help="A recipient a frequency rule caps: skip them (the default), or defer their"
    " message until the rules free a slot (needs --defer-until).",
)
DEFER_UNTIL_OPTION = typer.Option(
    None,
    "--defer-until",
    metavar="TIME",
    help="With --capped defer: the deadline, ISO 8601 with an offset"
    " (2026-12-20T18:00:00+01:00); a deferred message not sent by then is skipped.",
)

CAMPAIGN_FIELDS = (
    "id",
    "name",
    "subject",
    "organization",
    "status",
    "status_reason",
    "scheduled_for",
    "capped_recipients",
    "defer_until",
    "recipient_count",
    "counts",
    "lists",
    "segments",
    "started_at",
    "finished_at",
    "created_by",
    "created_at",
    "updated_at",
)
"""A campaign in ``--json`` output: the API's fields but the bodies."""


def format_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "-"


def _summary(campaign: Row) -> str:
    line = f"campaign {campaign['id']} '{campaign['name']}' ({campaign['organization']}): "
    line += str(campaign["status"])
    if campaign["status"] == CampaignStatus.SCHEDULED.value:
        line += f" for {format_time(campaign['scheduled_for'])}"
    if campaign.get("local_time"):
        line += f" at {campaign['local_time']} in each recipient's zone"
    if campaign.get("status_reason"):
        line += f" ({campaign['status_reason']})"
    if campaign.get("waiting"):
        line += f" ({campaign['waiting']})"
    line += f", {campaign['recipient_count']} recipients"
    if campaign.get("capped_recipients") == DEFER:
        line += f"; capped recipients deferred until {format_time(campaign['defer_until'])}"
    targets = _targets(campaign)
    return line if targets == "-" else f"{line}; {targets}"


def _targets(campaign: Row) -> str:
    """``lists Newsletter, Customers; segments Active`` (``-`` when it targets none)."""
    parts = [
        f"{kind} {', '.join(campaign[kind])}"
        for kind in ("lists", "segments")
        if campaign.get(kind)
    ]
    return "; ".join(parts) or "-"


def print_report(totals: ImportTotals) -> None:
    line = f"added {totals.added}, duplicates {totals.duplicates}, invalid {totals.invalid_count}"
    if totals.erased:
        line += f", erased {totals.erased} (left out: erased on request)"
    console.print(
        line,
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if not totals.invalid:
        return
    shown = len(totals.invalid)
    table = Table("row", "email", "reason", title=f"invalid rows (first {shown})")
    for row in totals.invalid:
        table.add_row(str(row.row), row.email, row.reason)
    print_table(table)


async def import_csv(
    services: Services, principal: Principal, campaign_id: int, path: Path, *, rows: int
) -> ImportTotals:
    """Add the file's recipients chunk by chunk (one bulk statement each), with a bar; the
    next chunks are read by another process while the one before is stored
    (``reading_process``)."""
    totals = ImportTotals()
    with bytes_progress() as progress:
        task = progress.add_task(f"importing {path.name}", total=path.stat().st_size)
        limits = actions.recipient_limits(services.settings)
        chunks = read_apart(
            lambda count: csv_chunks(path, rows=rows, on_read=count, limits=limits),
            RecipientListError,
            on_read=lambda size: progress.advance(task, size),
        )
        try:
            async with contextlib.aclosing(chunks) as ahead:
                async for chunk in ahead:
                    totals.include(
                        await actions.add_recipients(services, principal, campaign_id, chunk)
                    )
        except RecipientListError as error:
            progress.stop()
            print_report(totals)
            raise fail(f"{path}: {error} (the rows before it were imported)") from None
    return totals


def _checked_csv(path: Path, settings: Settings) -> Path:
    if not path.is_file():
        raise fail(f"no file {path}")
    try:
        header = check_header(path, actions.recipient_limits(settings))
    except RecipientListError as error:
        raise fail(f"{path}: {error}") from None
    if header.delimiter != ",":
        separator = DELIMITER_NAMES[header.delimiter]
        note(f"{path.name}: read as separated by {separator}, as its header line is")
    return path


@app.command("create")
def create(
    source: Path = typer.Option(
        ...,
        "--from",
        help="The YAML or JSON file that describes the campaign.",
        metavar="FILE",
    ),
    chunk_rows: int = typer.Option(
        CHUNK_ROWS, metavar="N", help="Rows per insert when recipients is a CSV.", min=1
    ),
    list_names: list[str] = typer.Option(
        [],
        "--list",
        metavar="NAME",
        help="Also send to this list's members (repeat for more lists).",
    ),
    segment_names: list[str] = typer.Option(
        [],
        "--segment",
        metavar="NAME",
        help="Also send to this segment's contacts (repeat for more segments).",
    ),
    capped: str | None = CAPPED_OPTION,
    defer_until: str | None = DEFER_UNTIL_OPTION,
) -> None:
    """Create a campaign from a YAML or JSON file.

    Prints the new campaign's id (the first line on stdout), its summary and the import
    report. The file's fields are those of the API (see docs/cli.md); recipients may be a
    list or a CSV file, lists and segments name the organization's lists and segments it is
    sent to (with --list and --segment adding more), and a scheduledFor time schedules it.

    A CSV is read as `campaign import` reads it (see its --help): its header line decides
    the separator, and a header without an email column is refused before anything is
    created.

    --capped defer --defer-until TIME defers the recipients a frequency rule caps until the
    rules free a slot for them, at the latest until TIME; the default, --capped skip, skips
    them (docs/scheduling.md, "Deferring capped recipients").

    \b
    Examples:
      campaignd campaign create --from winter.yaml
      campaignd campaign create --from winter.yaml --list Newsletter --list VIP
      campaignd campaign create --from winter.yaml --capped defer \\
          --defer-until 2026-12-20T18:00:00+01:00
    """
    configured = settings_or_exit()
    deferral = _deferral_options(capped, defer_until)
    try:
        definition = load_campaign_file(source, actions.recipient_limits(configured))
    except CampaignFileError as error:
        raise fail(str(error)) from None
    if definition.scheduled_note:
        note(f"scheduledFor: {definition.scheduled_note}")
    lists = list(dict.fromkeys([*definition.lists, *list_names]))
    segments = list(dict.fromkeys([*definition.segments, *segment_names]))
    targets = TargetNames(lists=lists or None, segments=segments or None)
    if definition.recipients_csv is not None:
        _checked_csv(definition.recipients_csv, configured)
    if definition.scheduled_for is not None:
        try:
            actions.check_schedule_time(definition.scheduled_for, utcnow())
        except Invalid as error:
            raise fail(error.detail) from None
    if deferral is not None:
        try:
            deferral_actions.check_deferral(*deferral, starts=definition.scheduled_for)
        except Invalid as error:
            raise fail(_option_words(error.detail)) from None
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[Row, ImportTotals]:
        csv_path = definition.recipients_csv
        campaign, report = await actions.create_campaign(
            services,
            principal,
            definition.content,
            organization=definition.organization,
            recipient_list=definition.recipients,
            scheduled_for=definition.scheduled_for if csv_path is None else None,
            targets=targets,
        )
        totals = ImportTotals()
        if report is not None:
            totals.include(report)
        campaign_id = int(campaign["id"])
        if deferral is not None and deferral[0] != SKIP:
            campaign = await deferral_actions.set_deferral(
                services, principal, campaign_id, capped=deferral[0], until=deferral[1]
            )
        if csv_path is not None:
            totals = await import_csv(services, principal, campaign_id, csv_path, rows=chunk_rows)
            if definition.scheduled_for is not None:
                campaign = await actions.schedule(
                    services, principal, campaign_id, definition.scheduled_for
                )
            else:
                campaign = await actions.get_campaign(services, principal, campaign_id)
        return campaign, totals

    campaign, totals = run_action(settings, work)
    print(campaign["id"])
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)
    print_report(totals)


def _deferral_options(
    capped: str | None, defer_until: str | None
) -> tuple[str, datetime | None] | None:
    """``--capped`` and ``--defer-until`` as (capped, deadline); None when neither is given
    (``campaign create --defer-until`` alone means ``--capped defer``)."""
    if capped is None and defer_until is None:
        return None
    if capped is not None and capped not in CHOICES:
        raise fail(f"--capped: '{capped}' is not skip or defer")
    until = None
    if defer_until is not None:
        try:
            until = parse_time(defer_until, timezone=None, option="an offset").moment
        except TimeError as error:
            raise fail(f"--defer-until: {error}") from None
    return capped or DEFER, until


def _option_words(detail: str) -> str:
    """A problem in the API's field names, in the options' names."""
    for field, option in (("cappedRecipients", "--capped"), ("deferUntil", "--defer-until")):
        detail = detail.replace(field, option)
    return detail


@app.command("edit")
def edit(
    campaign_id: int = CAMPAIGN_ID,
    capped: str | None = CAPPED_OPTION,
    defer_until: str | None = DEFER_UNTIL_OPTION,
) -> None:
    """Change a draft or scheduled campaign's settings.

    --capped says what becomes of a recipient a frequency rule caps when the campaign
    starts: skip (the default) leaves them out; defer holds their message until the rules
    free a slot for them, at the latest until --defer-until (ISO 8601 with an offset, after
    the campaign's start, at most 366 days later). A deferred message not sent by then is
    skipped. --defer-until alone changes the deadline of a campaign that defers; --capped
    skip removes it. The preview lists who would be deferred and until when.
    (Content, lists and segments: the admin form, the API or `campaign create`.)

    \b
    Examples:
      campaignd campaign edit 12 --capped defer \\
          --defer-until 2026-12-20T18:00:00+01:00
      campaignd campaign edit 12 --capped skip
    """
    deferral = _deferral_options(capped, defer_until)
    if deferral is None:
        raise fail("give --capped and/or --defer-until (see --help)")
    settings = prepared_settings()

    until: Any = deferral_actions.UNSET if defer_until is None else deferral[1]
    changed: Any = deferral_actions.UNSET if capped is None else deferral[0]

    async def work(services: Services, principal: Principal) -> Row:
        try:
            return await deferral_actions.set_deferral(
                services, principal, campaign_id, capped=changed, until=until
            )
        except Invalid as error:
            raise Invalid(_option_words(error.detail)) from None

    campaign = run_action(settings, work)
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)


@app.command("clone")
def clone(
    campaign_id: int = CAMPAIGN_ID,
    recipients: bool = typer.Option(
        True, "--recipients/--no-recipients", help="Copy the recipients too, or the content only."
    ),
) -> None:
    """Make a new draft with a campaign's content and recipients, named "... (copy)".

    Works in any status of the original (a sent campaign too). The copy is not scheduled;
    its recipients are all queued again, and the cooldown decides at its start who may be
    mailed. Prints the new campaign's id (the first line on stdout) and its summary.

    \b
    Example:
      campaignd campaign clone 12
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Row:
        return await clones.clone_campaign(
            services, principal, campaign_id, with_recipients=recipients
        )

    campaign = run_action(settings, work)
    print(campaign["id"])
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)


@app.command("import")
def import_(
    campaign_id: int = CAMPAIGN_ID,
    csv_file: Path = typer.Argument(
        ...,
        metavar="FILE.csv",
        help=(
            "CSV with an 'email' column; other columns become template variables. "
            "Separated by ',', or by ';' or tabs when its header line is."
        ),
    ),
    chunk_rows: int = typer.Option(
        CHUNK_ROWS, metavar="N", help="Rows per insert statement.", min=1
    ),
) -> None:
    """Add recipients from a CSV file of any size.

    The file is streamed in chunks; then the report: added, duplicates, and the invalid
    rows with their row number and reason.

    The header row names the columns, trimmed and in any case (Email is email). Its line
    decides the separator for the whole file: ';' or tab when it holds more of them than
    commas outside quotes, else ','. A header without an email column is refused, naming
    what it holds and what to rename, before anything is added.

    \b
    Example:
      campaignd campaign import 12 recipients.csv
    """
    settings = prepared_settings()
    _checked_csv(csv_file, settings)

    async def work(services: Services, principal: Principal) -> ImportTotals:
        await actions.get_campaign(services, principal, campaign_id)
        return await import_csv(services, principal, campaign_id, csv_file, rows=chunk_rows)

    print_report(run_action(settings, work))


@app.command("schedule")
def schedule(
    campaign_id: int = CAMPAIGN_ID,
    at: str | None = typer.Option(
        None,
        "--at",
        metavar="TIME",
        help="A date and time: '2026-12-01 09:00' with --tz, or ISO 8601 with an offset.",
    ),
    tz: str | None = typer.Option(
        None, "--tz", metavar="ZONE", help="IANA time zone of --at, e.g. Europe/Berlin."
    ),
    fold: int = typer.Option(
        0,
        "--fold",
        min=0,
        max=1,
        metavar="0|1",
        help="When --at happens twice (the clocks go back): 0 the first, 1 the second.",
    ),
    local_time: str | None = typer.Option(
        None,
        "--local-time",
        metavar="TIME",
        help="Instead of --at: this time (2026-12-10T09:00, no offset) in each recipient's"
        " zone, their 'timezone' variable, else --timezone.",
    ),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        metavar="ZONE",
        help="With --local-time: the zone of recipients without a 'timezone' variable"
        " (default UTC).",
    ),
    send_window: str | None = typer.Option(
        None,
        "--send-window",
        metavar="HH:MM-HH:MM[/DAYS]",
        help="Send only in these hours of the recipient's day, e.g. 08:00-20:00/mon,tue,wed,"
        "thu,fri (days left out: every day); 'none' removes the window.",
    ),
) -> None:
    """Schedule a campaign (a time, or a local time).

    Allowed when the campaign is a draft, scheduled (to reschedule it) or missed. A local
    time that does not exist (the clocks go forward) is refused with --at; one that happens
    twice is taken as the first unless --fold 1, and the command says which. With
    --local-time a skipped time is sent the length of the jump later and a repeated one at
    its first occurrence (docs/scheduling.md); the campaign starts at its earliest wave.

    \b
    Examples:
      campaignd campaign schedule 12 --at "2026-12-01 09:00" --tz Europe/Berlin
      campaignd campaign schedule 12 --at 2026-12-01T08:00:00Z
      campaignd campaign schedule 12 --local-time 2026-12-10T09:00 \\
          --timezone Europe/Berlin --send-window 08:00-20:00/mon,tue,wed,thu,fri
    """
    if (at is None) == (local_time is None):
        raise fail("give either --at or --local-time")
    if local_time is None and timezone is not None:
        raise fail("--timezone goes with --local-time (--at takes --tz)")
    window = _send_window_option(send_window)
    moment = None
    if at is not None:
        try:
            parsed = parse_time(at, timezone=tz, option="--tz", fold=fold, fold_option="--fold")
        except TimeError as error:
            raise fail(str(error)) from None
        moment = parsed.moment
        if parsed.note:
            note(parsed.note)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Row:
        if local_time is not None:  # refused before anything changes
            local_time_actions.check_local_time(local_time)
            local_time_actions.check_default_zone(timezone)
        if send_window is not None:
            await local_time_actions.set_send_window(services, principal, campaign_id, window)
        if local_time is not None:
            return await local_time_actions.schedule_local(
                services, principal, campaign_id, local_time, timezone=timezone
            )
        assert moment is not None
        return await actions.schedule(services, principal, campaign_id, moment)

    campaign = run_action(settings, work)
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)
    for wave in campaign.get("waves") or []:
        console.print(
            f"  wave {wave['zone']}: {wave['local_time']} local,"
            f" {format_time(wave['at'])}, {wave['recipients']} recipients",
            highlight=False,
            markup=False,
        )


def _send_window_option(text: str | None) -> dict[str, Any] | None:
    """``08:00-20:00/mon,tue`` as a send window document (None for none)."""
    if text is None or text.strip().lower() == "none":
        return None
    hours, _, days = text.partition("/")
    start, _, end = hours.partition("-")
    document: dict[str, Any] = {"start": start.strip(), "end": end.strip()}
    if days:
        document["days"] = [day.strip().lower() for day in days.split(",") if day.strip()]
    try:
        return local_time_actions.check_send_window(document)
    except Invalid as error:
        raise fail(f"--send-window: {error.detail}") from None


@app.command("category")
def category(
    campaign_id: int = CAMPAIGN_ID,
    name: str | None = typer.Argument(
        None, metavar="[NAME]", help="One of the organization's categories; none: no category."
    ),
) -> None:
    """Put a draft or scheduled campaign in a category, or (no NAME) in none.

    A campaign of a category is held to the category's frequency rules, counted over the
    category's messages only (see campaignd org set-rules --category).

    \b
    Examples:
      campaignd campaign category 12 product-updates
      campaignd campaign category 12
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Row:
        await frequency.set_campaign_category(services, principal, campaign_id, name)
        return await actions.get_campaign(services, principal, campaign_id)

    campaign = run_action(settings, work)
    shown = campaign["category"] or "no category"
    console.print(f"campaign {campaign_id}: {shown}", highlight=False, markup=False)


@app.command("target")
def target(
    campaign_id: int = CAMPAIGN_ID,
    list_names: list[str] = typer.Option(
        [], "--list", metavar="NAME", help="A list to send to (repeat for more lists)."
    ),
    segment_names: list[str] = typer.Option(
        [], "--segment", metavar="NAME", help="A segment to send to (repeat for more)."
    ),
    no_lists: bool = typer.Option(False, "--no-lists", help="Target no list any more."),
    no_segments: bool = typer.Option(False, "--no-segments", help="Target no segment any more."),
) -> None:
    """Change the lists and segments a campaign is sent to.

    Beside its recipients, a campaign is sent to the members of its lists and segments.
    The lists given replace the ones it targets, and so do the segments; a part not given
    stays as it is. Allowed while the campaign is a draft or scheduled. Their members are
    resolved when the campaign starts.

    \b
    Examples:
      campaignd campaign target 12 --list Newsletter --list Customers
      campaignd campaign target 12 --segment Active --no-lists
    """
    if list_names and no_lists:
        raise fail("give --list or --no-lists, not both")
    if segment_names and no_segments:
        raise fail("give --segment or --no-segments, not both")
    targets = TargetNames(
        lists=[] if no_lists else (list(dict.fromkeys(list_names)) or None),
        segments=[] if no_segments else (list(dict.fromkeys(segment_names)) or None),
    )
    if not targets:
        raise fail("nothing to change: give --list, --segment, --no-lists or --no-segments")
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Row:
        return await actions.edit_campaign(services, principal, campaign_id, {}, targets=targets)

    campaign = run_action(settings, work)
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)


def _lifecycle_command(name: str, summary: str) -> None:
    action = getattr(actions, name)

    def command(campaign_id: int = CAMPAIGN_ID) -> None:
        settings = prepared_settings()

        async def work(services: Services, principal: Principal) -> Row:
            result: Row = await action(services, principal, campaign_id)
            return result

        result = run_action(settings, work)
        if name == "execute":
            console.print(
                f"campaign {campaign_id} is sending (run {result['id']}); "
                f"watch it with `campaignd campaign status {campaign_id} --watch`",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        else:
            console.print(_summary(result), highlight=False, soft_wrap=True, markup=False)

    command.__doc__ = f"{summary}\n\n\b\nExample:\n  campaignd campaign {name} 12"
    app.command(name)(command)


_lifecycle_command("unschedule", "Turn a scheduled campaign back into a draft.")
_lifecycle_command("execute", "Send now (from draft, scheduled or missed): starts a manual run.")
_lifecycle_command("pause", "Pause a sending campaign (in-flight messages finish).")
_lifecycle_command("resume", "Resume a paused campaign.")
_lifecycle_command("cancel", "Cancel a scheduled, sending or paused campaign.")


def _print_status(campaign: Row) -> None:
    console.print(_summary(campaign), highlight=False, soft_wrap=True, markup=False)
    table = Table("status", "deliveries")
    for status, count in sorted(campaign["counts"].items()):
        table.add_row(status, str(count))
    print_table(table)
    console.print(
        f"started {format_time(campaign['started_at'])}, "
        f"finished {format_time(campaign['finished_at'])}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


@app.command("status")
def status(
    campaign_id: int = CAMPAIGN_ID,
    watch: bool = typer.Option(
        False, "--watch", help="Follow it until it is sent, failed or cancelled."
    ),
    interval: float = typer.Option(
        0.5, metavar="SECONDS", help="Seconds between polls with --watch.", min=0.05
    ),
    every: float = typer.Option(
        LINE_EVERY,
        metavar="SECONDS",
        help="With --watch and no terminal: seconds between progress lines.",
        min=0.1,
    ),
    as_json: bool = JSON,
) -> None:
    """A campaign's status and its deliveries per status.

    With --watch: a live bar on a terminal, a progress line every few seconds otherwise,
    until the campaign is final; the exit code is then 0 when it ends sent, 1 when failed
    or cancelled.

    \b
    Example:
      campaignd campaign status 12 --watch && echo sent
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Row:
        if watch:
            return await watch_campaign(
                services,
                principal,
                campaign_id,
                interval=interval,
                every=every,
                output=errors if as_json else None,
            )
        return await actions.get_campaign(services, principal, campaign_id)

    campaign = run_action(settings, work)
    if as_json:
        print_json(record(campaign, CAMPAIGN_FIELDS))
    else:
        _print_status(campaign)
    if watch and campaign["status"] != CampaignStatus.SENT.value:
        raise typer.Exit(1)


@app.command("list")
def list_(
    status: str | None = typer.Option(
        None,
        metavar="STATUS",
        help="Only this status: " + ", ".join(item.value for item in CampaignStatus) + ".",
    ),
    limit: int = typer.Option(50, metavar="N", help="How many (newest first).", min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """List campaigns, newest first.

    \b
    Example:
      campaignd campaign list --status scheduled
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[list[Row], int | None]:
        return await actions.list_campaigns(services, principal, status=status, limit=limit)

    rows, more = run_action(settings, work)
    if as_json:
        print_json(
            {"campaigns": [record(row, CAMPAIGN_FIELDS) for row in rows], "more": more is not None}
        )
        return
    table = Table(
        "id",
        "name",
        "organization",
        "status",
        "scheduled for",
        "recipients",
        "lists, segments",
        "sent",
        "failed",
        "skipped",
    )
    for row in rows:
        counts = row["counts"]
        table.add_row(
            str(row["id"]),
            row["name"],
            row["organization"],
            row["status"],
            format_time(row["scheduled_for"]),
            str(row["recipient_count"]),
            _targets(row),
            str(counts.get("sent", 0)),
            str(counts.get("failed", 0)),
            str(counts.get("skipped", 0)),
        )
    print_table(table)
    if more is not None:
        console.print(f"(more campaigns: raise --limit above {limit})")


def _signing_json(signing: Signing | None) -> dict[str, Any] | None:
    """A preview's ``dkim`` as the API writes it."""
    if signing is None:
        return None
    return {
        "signed": signing.signed,
        "fromDomain": signing.from_domain,
        "domain": signing.domain,
        "selectors": [selector for selector, _ in signing.keys],
        "note": signing.note,
    }


@app.command("preview")
def preview(
    campaign_id: int = CAMPAIGN_ID,
    limit: int = typer.Option(
        50, metavar="N", help="How many ineligible addresses to list.", min=0
    ),
    as_json: bool = JSON,
) -> None:
    """Who would get it now and why not; who lacks a template variable.

    Counts its recipients and the members of its lists and segments as they are now (each
    address once), applies the cooldown and the suppression list as sending would, and
    lists the addresses left out with the reason (and, for a campaign that defers capped
    recipients, those deferred with the instant they would go out); changes nothing. Then
    warns about each variable the templates print without a fallback that some recipients
    lack (no key, null or empty), with what they would read and a few of their addresses.

    \b
    Example:
      campaignd campaign preview 12
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Preview:
        return await actions.preview_campaign(services, principal, campaign_id, limit=max(limit, 1))

    result = run_action(settings, work)
    if as_json:
        print_json(
            {
                "campaignId": result.campaign_id,
                "campaignName": result.campaign_name,
                "totalRecipients": result.total_recipients,
                "eligible": result.eligible,
                "ineligible": result.ineligible,
                "deferred": result.deferred,
                "deferUntil": json_value(result.defer_until),
                "reasons": [dict(reason) for reason in result.reasons[:limit]],
                "missingVariables": [
                    record(asdict(item), MISSING_VARIABLE_FIELDS)
                    for item in result.missing_variables
                ],
                "uncheckedVariables": result.unchecked_variables,
                "dkim": _signing_json(result.dkim),
            }
        )
        return
    deferred = ""
    if result.defer_until is not None:
        deferred = f" ({result.deferred} deferred, until {format_time(result.defer_until)} at most)"
    console.print(
        f"campaign {result.campaign_id} '{result.campaign_name}': "
        f"{result.total_recipients} recipients, {result.eligible} eligible{deferred}, "
        f"{result.ineligible} not",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if result.dkim is not None:
        console.print(f"DKIM: {result.dkim.note}", highlight=False, soft_wrap=True, markup=False)
    if result.reasons and limit:
        table = Table("email", "code", "reason")
        for reason in result.reasons[:limit]:
            table.add_row(reason["email"], reason["code"], reason["reason"])
        print_table(table)
    _print_missing_variables(result)


MISSING_VARIABLE_FIELDS = ("name", "recipients", "empty_only", "seen_as", "sample")


def _print_missing_variables(result: actions.Preview) -> None:
    """One line per variable some recipients lack, and how to give it a fallback."""
    for item in result.missing_variables:
        listed = ", ".join(item.sample)
        if listed and item.recipients > len(item.sample):
            listed = f"for example {listed}"
        _say(f"warning: {item.sentence()}" + (f" ({listed})" if listed else ""))
    if result.missing_variables:
        name = result.missing_variables[0].name
        _say(
            "Fill in their values, or give the template a fallback that covers empty values "
            f'too: {{{{ {name} | default("...", true) }}}}'
        )
    if result.unchecked_variables:
        _say(
            "not checked for missing values (more variables than are counted at once): "
            + ", ".join(result.unchecked_variables)
        )


def _say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)


app.command("test")(campaign_tests.test)
