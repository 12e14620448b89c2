"""``campaignd list``: an organization's lists, their members, and the subscribe form."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from campaignd.actions import lists as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, errors, fail
from campaignd.cli.output import JSON, json_value, print_json, print_table
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.lists import split_names
from campaignd.store.lists import MailingList, Member

app = command_group("Manage lists, their members and the subscribe form.")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
NAME = typer.Argument(..., metavar="NAME", help="The list's name (quote it if it has spaces).")
BATCH = 5_000
"""Addresses per transaction when adding or removing many: the bar moves per batch, and a
command stopped half-way can simply be run again (adding is idempotent)."""


def _check(value: str | None, option: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise fail(f"{option}: must be one of {', '.join(allowed)}, not '{value}'")


def _say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)


def _list_json(slug: str, row: MailingList) -> dict[str, Any]:
    return {
        "name": row.name,
        "organization": slug,
        "description": row.description,
        "visibility": row.visibility,
        "optIn": row.opt_in,
        "members": row.members,
        "createdAt": json_value(row.created_at),
        "updatedAt": json_value(row.updated_at),
    }


def _describe(row: MailingList) -> str:
    counts = row.members
    return (
        f"{row.name}: {row.visibility}, {row.opt_in} opt-in; "
        f"{counts['confirmed']} confirmed, {counts['unconfirmed']} unconfirmed, "
        f"{counts['unsubscribed']} unsubscribed"
    )


@app.command("create")
def create(
    name: str = NAME,
    org: str = ORGANIZATION,
    description: str | None = typer.Option(None, metavar="TEXT", help="What the list is for."),
    visibility: str = typer.Option(
        "private", metavar="public|private", help="public: joinable from the subscribe form."
    ),
    opt_in: str = typer.Option(
        "double",
        "--opt-in",
        metavar="single|double",
        help="double: people who join from the form confirm by a link first.",
    ),
) -> None:
    """Create a list.

    \b
    Example:
      campaignd list create "Weekly news" --org acme --visibility public
    """
    _check(visibility, "--visibility", ("public", "private"))
    _check(opt_in, "--opt-in", ("single", "double"))
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, MailingList]:
        return await actions.create_list(
            services,
            principal,
            name=name,
            description=description,
            visibility=visibility,
            opt_in=opt_in,
            organization=org,
        )

    slug, row = run_action(settings, work)
    _say(f"created in {slug}: {_describe(row)}")


@app.command("show")
def show(
    name: str | None = typer.Argument(
        None, metavar="[NAME]", help="One list; without it, every list of the organization."
    ),
    org: str = ORGANIZATION,
    as_json: bool = JSON,
) -> None:
    """Show an organization's lists, or one list, with members per status.

    \b
    Examples:
      campaignd list show --org acme
      campaignd list show "Weekly news" --org acme --json
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[MailingList]]:
        if name is None:
            return await actions.list_lists(services, principal, organization=org)
        slug, row = await actions.get_list(services, principal, name, organization=org)
        return slug, [row]

    slug, rows = run_action(settings, work)
    if as_json:
        documents = [_list_json(slug, row) for row in rows]
        print_json({"organization": slug, "lists": documents} if name is None else documents[0])
        return
    table = Table(
        "name", "visibility", "opt-in", "confirmed", "unconfirmed", "unsubscribed", "description"
    )
    for row in rows:
        table.add_row(
            row.name,
            row.visibility,
            row.opt_in,
            str(row.members["confirmed"]),
            str(row.members["unconfirmed"]),
            str(row.members["unsubscribed"]),
            row.description or "",
        )
    print_table(table)
    if not rows:
        _say(f"{slug} has no lists yet: campaignd list create NAME --org {slug}")


@app.command("update")
def update(
    name: str = NAME,
    org: str = ORGANIZATION,
    new_name: str | None = typer.Option(None, "--name", metavar="NEW", help="Rename the list."),
    description: str | None = typer.Option(
        None, metavar="TEXT", help="New description ('' clears it)."
    ),
    visibility: str | None = typer.Option(None, metavar="public|private"),
    opt_in: str | None = typer.Option(None, "--opt-in", metavar="single|double"),
) -> None:
    """Rename a list or change its description, visibility or opt-in.

    \b
    Example:
      campaignd list update "Weekly news" --org acme --opt-in single
    """
    _check(visibility, "--visibility", ("public", "private"))
    _check(opt_in, "--opt-in", ("single", "double"))
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = new_name
    if description is not None:
        changes["description"] = description or None
    if visibility is not None:
        changes["visibility"] = visibility
    if opt_in is not None:
        changes["opt_in"] = opt_in
    if not changes:
        raise fail("nothing to change: give --name, --description, --visibility or --opt-in")
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, MailingList]:
        return await actions.update_list(services, principal, name, changes, organization=org)

    slug, row = run_action(settings, work)
    _say(f"updated in {slug}: {_describe(row)}")


@app.command("delete")
def delete(name: str = NAME, org: str = ORGANIZATION) -> None:
    """Delete a list and its memberships (the contacts stay).

    Refused while a campaign that may still send (draft, scheduled, sending, paused,
    missed) targets the list.

    \b
    Example:
      campaignd list delete "Old news" --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> str:
        return await actions.delete_list(services, principal, name, organization=org)

    slug = run_action(settings, work)
    _say(f"deleted the list {name} of {slug}")


# -- members ----------------------------------------------------------------------------------


def _addresses_of(text: IO[str], source: str) -> list[str]:
    """Addresses of a file: one per line, or a CSV whose header row has an ``email``
    column. Blank lines and lines starting with ``#`` are skipped; one bad address refuses
    the file, naming its line."""
    lines = text.read().splitlines()
    first = next(
        (number for number, line in enumerate(lines) if line.strip() and not line.startswith("#")),
        None,
    )
    if first is None:
        return []
    header = [cell.strip().lower() for cell in next(csv.reader([lines[first]]), [])]
    values: list[tuple[int, str]]
    if len(header) > 1 or header == ["email"]:
        if "email" not in header:
            raise fail(f"{source}: a CSV needs an 'email' column in its header row")
        index = header.index("email")
        values = [
            (number, row[index] if len(row) > index else "")
            for number, row in enumerate(csv.reader(lines[first + 1 :]), start=first + 2)
            if any(cell.strip() for cell in row)
        ]
    else:
        values = [
            (number, line.strip())
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.startswith("#")
        ]
    return [_address(value, f"{source}, line {number}: ") for number, value in values]


def _address(value: str, where: str = "") -> str:
    try:
        return normalise(value)
    except InvalidAddress as error:
        raise fail(f"{where}'{value}' is not a valid address: {error}") from None


def _gathered(emails: list[str], source: Path | None) -> list[str]:
    """The addresses of the arguments and of ``--from`` (``-``: standard input), each
    checked, without repeats; nothing is added when one is bad."""
    gathered = [_address(value) for value in emails]
    if source is not None:
        if str(source) == "-":
            gathered += _addresses_of(sys.stdin, "standard input")
        elif not source.is_file():
            raise fail(f"no file {source}")
        else:
            with source.open(encoding="utf-8-sig") as text:
                gathered += _addresses_of(text, str(source))
    if not gathered:
        raise fail("no addresses: give them as arguments or with --from FILE (- for stdin)")
    return list(dict.fromkeys(gathered))


def _batches(addresses: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(addresses), BATCH):
        yield addresses[start : start + BATCH]


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors
    )


FROM_FILE = typer.Option(
    None,
    "--from",
    metavar="FILE",
    help="Addresses one per line, or a CSV with an 'email' column; - reads standard input.",
)
EMAILS = typer.Argument(None, metavar="EMAIL", help="Addresses (or use --from).")


@dataclass
class Added:
    organization: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_unsubscribed: int = 0
    contacts_created: int = 0
    erased: int = 0

    def include(self, change: actions.MembersAdded) -> None:
        self.organization = change.organization
        self.added += change.added
        self.updated += change.updated
        self.unchanged += change.unchanged
        self.kept_unsubscribed += change.kept_unsubscribed
        self.contacts_created += change.contacts_created
        self.erased += change.erased


@app.command("add")
def add(
    name: str = NAME,
    emails: list[str] | None = EMAILS,
    org: str = ORGANIZATION,
    source: Path | None = FROM_FILE,
    status: str = typer.Option(
        "confirmed",
        metavar="confirmed|unconfirmed",
        help="confirmed: you vouch for them; unconfirmed: they still have to confirm "
        "(double opt-in lists only).",
    ),
) -> None:
    """Add addresses to a list, creating the contacts that are new.

    Every address is checked before anything is added. Large files go in batches of 5000
    (a bar on stderr); a command stopped half-way can simply be run again. Someone who
    left the list stays out: remove them first to add them back on purpose.

    \b
    Examples:
      campaignd list add "Weekly news" ada@example.com bob@example.org --org acme
      cut -d, -f1 people.csv | campaignd list add News --org acme --from -
    """
    _check(status, "--status", ("confirmed", "unconfirmed"))
    addresses = _gathered(emails or [], source)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Added:
        totals = Added()
        with _bar() as bar:
            task = bar.add_task(f"adding to {name}", total=len(addresses))
            for batch in _batches(addresses):
                totals.include(
                    await actions.add_members(
                        services, principal, name, batch, status=status, organization=org
                    )
                )
                bar.advance(task, len(batch))
        return totals

    totals = run_action(settings, work)
    line = (
        f"{name} in {totals.organization}: added {totals.added}, updated {totals.updated}, "
        f"unchanged {totals.unchanged}"
    )
    if totals.kept_unsubscribed:
        line += f", {totals.kept_unsubscribed} left the list before and stay out"
    if totals.erased:
        line += f", {totals.erased} erased on request and left out"
    if totals.contacts_created:
        line += f" ({totals.contacts_created} new contacts)"
    _say(line)


@app.command("remove")
def remove(
    name: str = NAME,
    emails: list[str] | None = EMAILS,
    org: str = ORGANIZATION,
    source: Path | None = FROM_FILE,
) -> None:
    """Take addresses off a list (their contacts and other lists stay).

    \b
    Example:
      campaignd list remove "Weekly news" ada@example.com --org acme
    """
    addresses = _gathered(emails or [], source)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, int]:
        slug, removed = "", 0
        with _bar() as bar:
            task = bar.add_task(f"removing from {name}", total=len(addresses))
            for batch in _batches(addresses):
                change = await actions.remove_members(
                    services, principal, name, batch, organization=org
                )
                slug, removed = change.organization, removed + change.removed
                bar.advance(task, len(batch))
        return slug, removed

    slug, removed = run_action(settings, work)
    _say(f"{name} in {slug}: removed {removed}, {len(addresses) - removed} were not members")


@app.command("members")
def members(
    name: str = NAME,
    org: str = ORGANIZATION,
    status: str | None = typer.Option(
        None, metavar="STATUS", help="Only unconfirmed, confirmed or unsubscribed members."
    ),
    limit: int = typer.Option(
        1000, metavar="N", help="How many (in address order).", min=1, max=100_000
    ),
    as_json: bool = JSON,
) -> None:
    """List a list's members with their status.

    \b
    Example:
      campaignd list members "Weekly news" --org acme --status unconfirmed
    """
    _check(status, "--status", ("unconfirmed", "confirmed", "unsubscribed"))
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[Member], bool]:
        slug, rows, more = await actions.list_members(
            services, principal, name, status=status, limit=limit, organization=org
        )
        return slug, rows, more is not None

    slug, rows, more = run_action(settings, work)
    if as_json:
        print_json(
            {
                "organization": slug,
                "list": name,
                "members": [
                    {
                        "email": row.email,
                        "status": row.status,
                        "contactStatus": row.contact_status,
                        "confirmationSentAt": json_value(row.confirmation_sent_at),
                        "createdAt": json_value(row.created_at),
                        "updatedAt": json_value(row.updated_at),
                    }
                    for row in rows
                ],
                "more": more,
            }
        )
        return
    table = Table("email", "status", "contact", "since")
    for row in rows:
        table.add_row(row.email, row.status, row.contact_status, format_time(row.created_at))
    print_table(table)
    if more:
        _say(f"(more members: raise --limit above {limit})")


@app.command("form")
def form(
    org: str = ORGANIZATION,
    lists: str | None = typer.Option(
        None, metavar="A,B", help="The public lists to offer (default: every public list)."
    ),
) -> None:
    """Print the HTML of a subscribe form to paste into a web page.

    The form posts to PUBLIC_URL/subscribe/SLUG; only public lists can be offered.
    Double opt-in lists send a confirmation message; the page answers in words.

    \b
    Example:
      campaignd list form --org acme --lists "Weekly news,Offers" > subscribe.html
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.FormSnippet:
        names = split_names(lists) if lists else None
        return await actions.form_snippet(services, principal, lists=names, organization=org)

    snippet = run_action(settings, work)
    sys.stdout.write(snippet.html + "\n")
    sys.stdout.flush()
