"""``campaignd suppress``: an organization's suppression list (addresses never mailed), and
the list as a CSV file (import, export)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import typer
from rich.progress import Progress
from rich.table import Table

from campaignd.actions import suppression_files as actions_files
from campaignd.actions import suppressions as actions
from campaignd.actions.errors import Invalid, Unreadable
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppression_files import SuppressionImport
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, errors, fail
from campaignd.cli.output import JSON, print_json, print_table, record
from campaignd.cli.progress import bytes_progress, rows_progress
from campaignd.store.rows import Row

app = command_group("Manage suppression lists (never mailed); import and export CSV.")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
EMAILS = typer.Argument(..., metavar="EMAIL...", help="One or more addresses.")


def addresses(count: int) -> str:
    return f"{count} address" if count == 1 else f"{count} addresses"


def report(change: actions.Change, *, done: str, not_needed: str) -> str:
    """``suppressed 2 addresses in acme; 1 other was already suppressed``, or when nothing
    changed ``nothing changed in acme: the address was already suppressed``."""
    if not change.changed:
        given = (
            "the address was" if change.unchanged == 1 else f"the {change.unchanged} addresses were"
        )
        return f"nothing changed in {change.organization}: {given} {not_needed}"
    line = done.format(count=addresses(change.changed))
    if change.unchanged:
        others = "1 other was" if change.unchanged == 1 else f"{change.unchanged} others were"
        line += f"; {others} {not_needed}"
    return line


def _check_reason(reason: str | None) -> None:
    if reason is not None and reason not in actions.REASONS:
        raise fail(f"--reason: must be one of {', '.join(actions.REASONS)}, not '{reason}'")


@app.command("add")
def add(
    emails: list[str] = EMAILS,
    org: str = ORGANIZATION,
    reason: str = typer.Option(
        "manual", metavar="REASON", help="manual, unsubscribed, bounced or complained."
    ),
) -> None:
    """Never mail these addresses again in this organization.

    Checked at fan-out and again right before every send. One invalid address refuses the
    whole command; an address already suppressed is reported and left as it is.

    \b
    Example:
      campaignd suppress add ada@example.com grace@example.org --org acme
    """
    _check_reason(reason)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Change:
        return await actions.add_suppressions(
            services, principal, emails, reason=reason, organization=org
        )

    change = run_action(settings, work)
    console.print(
        report(
            change,
            done=f"suppressed {{count}} in {change.organization}",
            not_needed="already suppressed",
        ),
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


@app.command("remove")
def remove(emails: list[str] = EMAILS, org: str = ORGANIZATION) -> None:
    """Allow these addresses to be mailed again in this organization.

    \b
    Example:
      campaignd suppress remove ada@example.com --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Change:
        return await actions.remove_suppressions(services, principal, emails, organization=org)

    change = run_action(settings, work)
    console.print(
        report(
            change,
            done=f"removed {{count}} from the suppression list of {change.organization}",
            not_needed="not on the list",
        ),
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


@app.command("list")
def list_(
    org: str = ORGANIZATION,
    reason: str | None = typer.Option(None, metavar="REASON", help="Only this reason."),
    limit: int = typer.Option(
        1000, metavar="N", help="How many (in address order).", min=1, max=100_000
    ),
    as_json: bool = JSON,
) -> None:
    """List an organization's suppressed addresses, with reason and date.

    \b
    Example:
      campaignd suppress list --org acme --reason bounced
    """
    _check_reason(reason)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[Row], bool]:
        slug, rows, more = await actions.list_suppressions(
            services, principal, organization=org, reason=reason, limit=limit
        )
        return slug, rows, more is not None

    slug, rows, more = run_action(settings, work)
    if as_json:
        fields = ("email", "reason", "created_at", "detail")
        print_json(
            {
                "organization": slug,
                "suppressions": [record(row, fields) for row in rows],
                "more": more,
            }
        )
        return
    table = Table("email", "reason", "since", "detail")
    for row in rows:
        table.add_row(
            row["email"], row["reason"], format_time(row["created_at"]), row.get("detail") or ""
        )
    print_table(table)
    if more:
        console.print(f"(more addresses: raise --limit above {limit})")


INVALID_SHOWN = 20
"""Skipped rows listed after an import (``--json`` lists up to 1,000)."""
STDIN_COPY_BYTES = 1 << 20


@contextlib.contextmanager
def _opened(file: str) -> Iterator[tuple[IO[bytes], str]]:
    """The file to import and the name it goes by; ``-`` is standard input, copied to a
    temporary file first (an import reads its file twice)."""
    if file == "-":
        with tempfile.TemporaryFile() as copy:
            while block := sys.stdin.buffer.read(STDIN_COPY_BYTES):
                copy.write(block)
            copy.seek(0)
            yield copy, "standard input"
        return
    path = Path(file)
    if not path.is_file():
        raise fail(f"no file {path}")
    try:
        opened = path.open("rb")
    except OSError as error:
        raise fail(f"{path}: {error.strerror or error}") from None
    with opened:
        yield opened, path.name


def _read_bar(progress: Progress | None, name: str, size: int) -> actions_files.ReadProgress:
    """Advance one bar: first while the file is checked, then again while it is imported."""
    if progress is None:
        return lambda _phase, _size: None
    words = {"check": f"checking {name}", "import": f"importing {name}"}
    task = progress.add_task(words["check"], total=size or None)
    shown: list[str] = ["check"]

    def on_read(phase: actions_files.Phase, read: int) -> None:
        if phase != shown[0]:
            shown[0] = phase
            progress.reset(task, description=words[phase], total=size or None)
        progress.advance(task, read)

    return on_read


def _import_summary(done: SuppressionImport, name: str) -> str:
    """``imported list.csv into acme: 3 added, 1 already suppressed, 2 rows skipped``."""
    skipped = "1 row skipped" if done.invalid_count == 1 else f"{done.invalid_count} rows skipped"
    return (
        f"imported {name} into {done.organization}: {done.added} added, "
        f"{done.unchanged} already suppressed, {skipped}"
    )


def _print_import(done: SuppressionImport, name: str) -> None:
    console.print(_import_summary(done, name), highlight=False, soft_wrap=True, markup=False)
    if not done.invalid:
        return
    shown = done.invalid[:INVALID_SHOWN]
    title = f"rows skipped (first {len(shown)} of {done.invalid_count})"
    table = Table("row", "email", "problem", title=title if done.invalid_count > 1 else None)
    for row in shown:
        table.add_row(str(row.row), row.email, row.reason)
    print_table(table)


def import_document(done: SuppressionImport) -> dict[str, object]:
    """The report as the API answers it."""
    return {
        "organization": done.organization,
        "added": done.added,
        "unchanged": done.unchanged,
        "invalid": [
            {"row": row.row, "email": row.email, "problem": row.reason} for row in done.invalid
        ],
        "invalidCount": done.invalid_count,
    }


@app.command("import")
def import_(
    file: str = typer.Argument(
        ...,
        metavar="FILE",
        help="CSV with an 'email' column, and optionally 'reason'; '-' reads standard input.",
    ),
    org: str = ORGANIZATION,
    reason: str = typer.Option(
        "manual",
        metavar="REASON",
        help="Reason of rows without one of their own: manual, unsubscribed, bounced or "
        "complained.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as JSON (the API's fields), for scripts."
    ),
) -> None:
    """Suppress the addresses of a CSV file of any size.

    An export of another ESP, or of `campaignd suppress export`. The file needs a header
    row with an 'email' column; a 'reason' column gives each row its reason, other columns
    are ignored. The whole file is checked first: one that cannot be read (no 'email'
    column, a quote never closed, not UTF-8) changes nothing. Then it is imported in
    chunks. Rows with an invalid address or an unknown reason are skipped and listed with
    their row number; an address already suppressed keeps its reason. On a terminal a bar
    shows the bytes read.

    \b
    Examples:
      campaignd suppress import unsubscribed.csv --org acme --reason unsubscribed
      campaignd suppress export --org acme |
        campaignd suppress import - --org globex
    """
    _check_reason(reason)
    settings = prepared_settings()
    with _opened(file) as (source, name):

        async def work(services: Services, principal: Principal) -> SuppressionImport:
            size = os.fstat(source.fileno()).st_size
            with contextlib.ExitStack() as stack:
                progress = stack.enter_context(bytes_progress()) if errors.is_terminal else None
                try:
                    return await actions_files.import_suppressions(
                        services,
                        principal,
                        source,
                        organization=org,
                        reason=reason,
                        file_name=name,
                        on_read=_read_bar(progress, name, size),
                    )
                except (Invalid, Unreadable) as error:
                    raise type(error)(f"{name}: {error.detail}") from None

        done = run_action(settings, work)
    if as_json:
        print_json(import_document(done))
        return
    _print_import(done, name)


def _partial_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.part")


@app.command("export")
def export(
    org: str = ORGANIZATION,
    reason: str | None = typer.Option(None, metavar="REASON", help="Only this reason."),
    output: Path | None = typer.Option(
        None,
        "--output",
        metavar="FILE",
        help="Write the CSV to FILE (replaced once complete) instead of standard output.",
    ),
) -> None:
    """Write an organization's suppression list as a CSV file.

    Columns email,reason,created_at (UTC, ISO 8601), in address order, read a page at a
    time (any size, flat memory). To standard output unless --output is given; on a
    terminal a bar on stderr counts the rows. The file imports back with `campaignd
    suppress import` (and into other ESPs).

    \b
    Examples:
      campaignd suppress export --org acme --output acme-suppressions.csv
      campaignd suppress export --org acme --reason bounced | wc -l
    """
    _check_reason(reason)
    settings = prepared_settings()
    if output is not None and output.is_dir():
        raise fail(f"--output: {output} is a folder; name a file")
    if output is not None and not output.parent.is_dir():
        raise fail(f"--output: there is no folder {output.parent}")
    # a bar beside CSV lines on the same terminal would garble both
    show_bar = errors.is_terminal and (output is not None or not sys.stdout.isatty())

    async def work(services: Services, principal: Principal) -> tuple[str, int]:
        found = await actions_files.export_suppressions(
            services, principal, organization=org, reason=reason, count=True
        )
        slug = found.organization
        with contextlib.ExitStack() as stack:
            if output is None:
                target: IO[bytes] = sys.stdout.buffer
            else:
                target = stack.enter_context(_partial_path(output).open("wb"))
            target.write(found.header.encode("utf-8"))
            progress = stack.enter_context(rows_progress()) if show_bar else None
            task = None
            if progress is not None:
                task = progress.add_task(f"exporting {slug}", total=found.total)
            written = 0
            async for page in found.pages:
                target.write(page.text.encode("utf-8"))
                written += page.rows
                if progress is not None and task is not None:
                    progress.advance(task, page.rows)
            target.flush()
        return slug, written

    try:
        slug, written = run_action(settings, work)
    except BrokenPipeError:
        # the reader stopped (`| head`): nothing more to say, and nothing left to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except BaseException as error:
        if output is not None:
            _partial_path(output).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise fail(f"{output or 'standard output'}: {error.strerror or error}") from None
        raise
    what = f"{written} address" if written == 1 else f"{written} addresses"
    if output is None:
        errors.print(f"exported {what} of {slug}", highlight=False, markup=False)
        return
    _partial_path(output).replace(output)
    console.print(
        f"exported {what} of {slug} to {output}", highlight=False, soft_wrap=True, markup=False
    )
