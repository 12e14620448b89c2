"""``campaignd suppress``: an organization's suppression list (addresses never mailed)."""

from __future__ import annotations

import typer
from rich.table import Table

from campaignd.actions import suppressions as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, fail
from campaignd.cli.output import JSON, print_json, print_table, record
from campaignd.store.rows import Row

app = command_group("Manage suppression lists (never mailed).")

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
