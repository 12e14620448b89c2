"""``campaignd contact``: an organization's contacts: import, list, show, set a status,
delete, and the privacy export and erasure of one address."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from campaignd.actions import contacts as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.text_files import csv_text
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, errors, fail
from campaignd.cli.output import JSON, print_json, print_table, record
from campaignd.cli.progress import LINE_EVERY, bytes_progress
from campaignd.cli.reading_process import read_apart
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import (
    FILE_SUFFIXES,
    ContactError,
    ContactFormat,
    Mode,
    batches,
    incoming_rows,
)
from campaignd.store.contacts import Contact

app = command_group("Manage an organization's contacts (its audience).")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
EMAIL = typer.Argument(..., metavar="EMAIL", help="The contact's address.")
BATCH_ROWS = 5_000
INVALID_SHOWN = 20
STATUSES = ", ".join(status.value for status in ContactStatus)
CONTACT_FIELDS = ("email", "attributes", "status", "source", "created_at", "updated_at")


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def _status(value: str, option: str) -> ContactStatus:
    try:
        return ContactStatus(value)
    except ValueError:
        raise fail(f"{option}: must be one of {STATUSES}, not '{value}'") from None


def _format_of(path: Path, given: str | None) -> ContactFormat:
    if given is not None:
        try:
            return ContactFormat(given)
        except ValueError:
            raise fail(f"--format: must be csv or jsonl, not '{given}'") from None
    kind = FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise fail(
            f"cannot tell the format of {path.name} from its name (.csv, .jsonl, .ndjson): "
            "add --format csv or --format jsonl"
        )
    return kind


class ReadProgress:
    """Bytes of the file read: a bar on a terminal, a plain line every few seconds
    otherwise (a pipe, a CI log), on stderr so stdout stays the report."""

    def __init__(self, path: Path, every: float = LINE_EVERY) -> None:
        self.name = path.name
        self.total = path.stat().st_size
        self.read = 0
        self.rows = 0
        self.every = every
        self.shown_at = time.monotonic()
        self.bar = bytes_progress() if errors.is_terminal else None
        self.task = (
            None
            if self.bar is None
            else self.bar.add_task(f"importing {self.name}", total=self.total)
        )

    def __enter__(self) -> ReadProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, size: int) -> None:
        self.read += size
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, size)

    def stored(self, rows: int) -> None:
        self.rows = rows
        if self.bar is None and time.monotonic() - self.shown_at >= self.every:
            self.shown_at = time.monotonic()
            megabytes = f"{self.read / 1e6:.1f} of {self.total / 1e6:.1f} MB"
            errors.print(
                f"importing {self.name}: {rows} rows stored, {megabytes}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )


def _lines(path: Path, on_read: Callable[[int], None]) -> Iterator[str]:
    with path.open("rb") as raw, csv_text(raw, on_read) as text:
        yield from text


def print_report(report: actions.ContactReport) -> None:
    _say(
        f"{report.organization}: created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, erased {report.erased}, invalid {report.invalid_count}"
    )
    if not report.invalid:
        return
    shown = report.invalid[:INVALID_SHOWN]
    table = Table("row", "email", "reason", title=f"invalid rows (first {len(shown)})")
    for row in shown:
        table.add_row(str(row.row), row.email, row.reason)
    print_table(table)


@app.command("import")
def import_(
    path: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="CSV with an 'email' column (other columns are attributes) or JSON Lines.",
    ),
    org: str = ORGANIZATION,
    file_format: str | None = typer.Option(
        None, "--format", metavar="FORMAT", help="csv or jsonl (default: from the file's name)."
    ),
    mode: str = typer.Option(
        "merge", metavar="MODE", help="merge (add to stored attributes) or replace them."
    ),
    source: str = typer.Option(
        "import", metavar="TEXT", help="Where new contacts came from (kept on them)."
    ),
    batch_rows: int = typer.Option(
        BATCH_ROWS, "--batch", metavar="N", help="Rows stored per transaction.", min=1
    ),
    every: float = typer.Option(
        LINE_EVERY,
        metavar="SECONDS",
        help="With no terminal: seconds between progress lines.",
        min=0.1,
    ),
) -> None:
    """Create or update contacts from a CSV or JSON Lines file.

    A file of any size is streamed and stored in batches, with a progress bar; then the report:
    created, updated, unchanged, erased (left out: erased on request) and the rows with an
    invalid address. CSV values are strings; JSON Lines carry numbers, true/false and a
    status ({"email": ..., "attributes": {...}, "status": "unsubscribed"}). Any other
    mistake stops the import at its line; the batches before it stay stored, and since an
    import is an upsert the corrected file can simply be imported again.

    \b
    Examples:
      campaignd contact import customers.csv --org acme
      campaignd contact import export.jsonl --org acme --mode replace
    """
    if not path.is_file():
        raise fail(f"no file {path}")
    kind = _format_of(path, file_format)
    try:
        chosen = Mode(mode)
    except ValueError:
        raise fail(f"--mode: must be merge or replace, not '{mode}'") from None
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.ContactReport:
        importing = await actions.ContactImport.open(
            services, principal, organization=org, mode=chosen, source=source
        )
        limits = actions.contact_limits(services)
        try:
            with ReadProgress(path, every) as progress:
                read = read_apart(
                    lambda count: batches(
                        incoming_rows(kind, _lines(path, count), limits), batch_rows
                    ),
                    ContactError,
                    on_read=progress.advance,
                )
                async with contextlib.aclosing(read) as ahead:
                    async for batch in ahead:
                        await importing.write(batch)
                        progress.stored(importing.report.rows)
        except ContactError as error:
            print_report(importing.report)
            raise fail(
                f"{path}: {error}; the batches before it were stored (import the corrected "
                "file again: it is an upsert)"
            ) from None
        return importing.report

    print_report(run_action(settings, work))


def _contact_json(organization: str, contact: Contact) -> dict[str, Any]:
    return {"organization": organization} | record(vars(contact), CONTACT_FIELDS)


@app.command("list")
def list_(
    org: str = ORGANIZATION,
    search: str | None = typer.Option(
        None, metavar="TEXT", help="Only addresses containing this (any case)."
    ),
    status: str | None = typer.Option(
        None, metavar="STATUS", help=f"Only this status: {STATUSES}."
    ),
    limit: int = typer.Option(
        1000, metavar="N", help="How many (in address order).", min=1, max=100_000
    ),
    as_json: bool = JSON,
) -> None:
    """List or search an organization's contacts, in address order.

    \b
    Examples:
      campaignd contact list --org acme --search example.com
      campaignd contact list --org acme --status bounced --json
    """
    chosen = _status(status, "--status") if status is not None else None
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[Contact], bool]:
        slug, rows, more = await actions.search_contacts(
            services, principal, organization=org, contains=search, status=chosen, limit=limit
        )
        return slug, rows, more is not None

    slug, rows, more = run_action(settings, work)
    if as_json:
        print_json(
            {
                "organization": slug,
                "contacts": [_contact_json(slug, row) for row in rows],
                "more": more,
            }
        )
        return
    table = Table("email", "status", "attributes", "source", "updated")
    for row in rows:
        attributes = json.dumps(row.attributes, ensure_ascii=False)
        table.add_row(
            row.email, row.status.value, attributes, row.source or "", format_time(row.updated_at)
        )
    print_table(table)
    if more:
        _say(f"(more contacts: raise --limit above {limit})")


@app.command("show")
def show(email: str = EMAIL, org: str = ORGANIZATION, as_json: bool = JSON) -> None:
    """One contact: status, attributes, source and times.

    \b
    Example:
      campaignd contact show ada@example.com --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, Contact]:
        return await actions.get_contact(services, principal, email, organization=org)

    slug, contact = run_action(settings, work)
    if as_json:
        print_json(_contact_json(slug, contact))
        return
    _say(f"{contact.email} ({slug}): {contact.status.value}")
    _say(f"source: {contact.source or '-'}")
    _say(f"created: {format_time(contact.created_at)}, updated: {format_time(contact.updated_at)}")
    for name, value in sorted(contact.attributes.items()):
        _say(f"  {name}: {json.dumps(value, ensure_ascii=False)}")


@app.command("set-status")
def set_status(
    email: str = EMAIL,
    status: str = typer.Argument(..., metavar="STATUS", help=f"One of {STATUSES}."),
    org: str = ORGANIZATION,
) -> None:
    """Set a contact's status; the suppression list follows.

    Any status but subscribed puts the address on the suppression list (blocklisted as
    manual); subscribed takes it off again.

    \b
    Example:
      campaignd contact set-status ada@example.com unsubscribed --org acme
    """
    chosen = _status(status, "STATUS")
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, Contact]:
        return await actions.edit_contact(
            services, principal, email, status=chosen, organization=org
        )

    slug, contact = run_action(settings, work)
    listed = "off the suppression list" if chosen is ContactStatus.SUBSCRIBED else "suppressed"
    _say(f"{contact.email} in {slug} is now {contact.status.value} ({listed})")


@app.command("delete")
def delete(email: str = EMAIL, org: str = ORGANIZATION) -> None:
    """Delete a contact and its list memberships.

    A suppression of the address stays. To forget the address altogether (and keep it
    from coming back), use erase.

    \b
    Example:
      campaignd contact delete ada@example.com --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> str:
        return await actions.delete_contact(services, principal, email, organization=org)

    slug = run_action(settings, work)
    _say(f"deleted the contact {email.strip()} from {slug}")


@app.command("export")
def export(
    email: str = EMAIL,
    org: str = ORGANIZATION,
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the JSON here (private file)."
    ),
) -> None:
    """Print everything stored about one address as JSON.

    For a privacy request: the contact, its lists, its suppression, its deliveries with
    their campaigns, its cooldown entries and the audit entries that name it. Audited.

    \b
    Example:
      campaignd contact export ada@example.com --org acme -o ada.json
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> dict[str, Any]:
        return await actions.export_contact(services, principal, email, organization=org)

    document = run_action(settings, work)
    if output is None:
        print_json(document)
        return
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    _say(
        f"wrote everything stored about {document['email']} in {document['organization']} "
        f"to {output}"
    )


@app.command("erase")
def erase(
    email: str = EMAIL,
    org: str = ORGANIZATION,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Erase an address from the organization for good.

    For a privacy request: the contact, its list memberships and its suppression are
    deleted; its deliveries keep their outcome but not the address or its data; a keyed
    hash keeps any later import from bringing it back. Asks first, unless --yes. Audited.

    \b
    Example:
      campaignd contact erase ada@example.com --org acme --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            raise fail("erasing cannot be undone: add --yes to erase without a question")
        question = f"Erase {email.strip()} from {org} for good? This cannot be undone."
        if not typer.confirm(question, default=False, err=True):
            raise fail("nothing erased")
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Erased:
        return await actions.erase_contact(services, principal, email, organization=org)

    erased = run_action(settings, work)
    result = erased.erasure
    if result.already and not (result.contact or result.deliveries):
        _say(f"{erased.email} was already erased from {erased.organization}; nothing left to erase")
        return
    _say(
        f"erased {erased.email} from {erased.organization}: contact {result.contact}, "
        f"list memberships {result.memberships}, suppression {result.suppression}, "
        f"deliveries {result.deliveries} (now {result.placeholder}), "
        f"cooldown entries {result.cooldown_entries}, other mentions {result.mentions}"
    )
