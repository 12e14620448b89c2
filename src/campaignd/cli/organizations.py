"""``campaignd org``: organizations."""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from campaignd.actions import frequency
from campaignd.actions.errors import ActionError
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.common import (
    command_group,
    console,
    ensure_schema,
    fail,
    run_with_database,
    settings_or_exit,
)
from campaignd.cli.output import JSON, print_json, print_table, record
from campaignd.domain.frequency import rules_text
from campaignd.store.database import Database
from campaignd.store.frequency_rules import rule_sets
from campaignd.store.organizations import create_organization, list_organizations
from campaignd.store.rows import Row

app = command_group("Manage organizations.")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@app.command("create")
def create(
    slug: str = typer.Argument(
        ..., metavar="SLUG", help="Short name: lower-case letters, digits and dashes."
    ),
    name: str | None = typer.Option(None, metavar="NAME", help="Display name (default: the slug)."),
) -> None:
    """Create an organization.

    An organization has its own campaigns, suppression list and tokens.

    \b
    Example:
      campaignd org create acme --name "Acme Inc."
    """
    if not SLUG.match(slug):
        raise fail(f"'{slug}' is not a valid slug: use lower-case letters, digits and dashes")
    settings = settings_or_exit()
    ensure_schema(settings, create=True)

    async def work(database: Database) -> Row:
        async with database.transaction() as connection:
            return await create_organization(connection, slug=slug, name=name or slug)

    try:
        row = run_with_database(settings, work)
    except IntegrityError:
        raise fail(f"organization '{slug}' already exists") from None
    console.print(f"created organization {row['slug']} (id {row['id']})")


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List organizations with their frequency rules."""
    settings = settings_or_exit()
    ensure_schema(settings)

    async def work(database: Database) -> list[Row]:
        async with database.connection() as connection:
            rows = await list_organizations(connection)
            for row in rows:
                sets = await rule_sets(
                    connection, int(row["id"]), cooldown_days=settings.cooldown_days
                )
                row["rules"] = rules_text(sets.rules)
                row["categories"] = ", ".join(
                    f"{name} {rules_text(rules)}" for name, rules in sets.categories.items()
                )
            return rows

    rows = run_with_database(settings, work)
    if as_json:
        fields = ("id", "slug", "name", "created_at", "rules", "categories")
        print_json({"organizations": [record(row, fields) for row in rows]})
        return
    table = Table("id", "slug", "name", "rules", "categories")
    for row in rows:
        table.add_row(
            str(row["id"]), row["slug"], row["name"], row["rules"], row["categories"] or "-"
        )
    print_table(table)


RULE_HELP = (
    "A rule MAX/DAYSd: at most MAX messages within DAYS days, e.g. 1/1d or 3/7d. "
    "Repeat for several rules (at most 5, each a different DAYS)."
)


def _print_rules(view: frequency.RulesView, as_json: bool) -> None:
    if as_json:
        print_json(view.as_json())
        return
    sets = view.sets
    default = " (default: COOLDOWN_DAYS)" if sets.default else ""
    console.print(
        f"{view.organization}: {rules_text(sets.rules)}{default}", highlight=False, markup=False
    )
    for name, rules in sets.categories.items():
        console.print(f"  category {name}: {rules_text(rules)}", highlight=False, markup=False)


@app.command("set-rules")
def set_rules(
    slug: str = typer.Argument(..., metavar="SLUG", help="The organization's slug."),
    rule: list[str] = typer.Option([], "--rule", metavar="MAX/DAYSd", help=RULE_HELP),
    rules_json: str | None = typer.Option(
        None,
        "--json-rules",
        metavar="JSON",
        help='The rules as JSON instead of --rule: [{"max": 1, "days": 1}, {"max": 3, "days": 7}].',
    ),
    category: str | None = typer.Option(
        None,
        "--category",
        metavar="NAME",
        help="Set (creating it) this category's rules instead of the organization's; "
        "no --rule: its campaigns are not capped.",
    ),
    as_json: bool = JSON,
) -> None:
    """Set frequency rules (at most MAX messages within DAYS days).

    Without --category: the rules of the organization's campaigns without a category
    (they count the messages without a category). With --category: that category's
    rules (they count only the category's messages). The default, until set, is one rule
    1/COOLDOWN_DAYSd: the cooldown.

    \b
    Examples:
      campaignd org set-rules acme --rule 1/1d --rule 3/7d
      campaignd org set-rules acme --category product-updates --rule 2/7d
      campaignd org set-rules acme --json-rules '[{"max": 1, "days": 90}]'
    """
    if rules_json is not None and rule:
        raise fail("give either --rule or --json-rules, not both")
    if rules_json is not None:
        try:
            rules: Any = json.loads(rules_json)
        except ValueError as error:
            raise fail(f"--json-rules: not JSON: {error}") from None
    else:
        if not rule and category is None:
            raise fail("give at least one --rule (or reset-rules to go back to the default)")
        try:
            rules = frequency.rules_from_text(rule)
        except ActionError as error:
            raise fail(error.detail) from None
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> frequency.RulesView:
        return await frequency.change_rules(
            services, principal, rules=rules, category=category, organization=slug
        )

    _print_rules(run_action(settings, work), as_json)


@app.command("reset-rules")
def reset_rules(
    slug: str = typer.Argument(..., metavar="SLUG", help="The organization's slug."),
    category: str | None = typer.Option(
        None, "--category", metavar="NAME", help="Remove this category instead."
    ),
    as_json: bool = JSON,
) -> None:
    """Go back to the default rule, or remove a category.

    The default rule is 1/COOLDOWN_DAYSd: the cooldown. A category can be removed
    once none of its campaigns is unfinished.

    \b
    Examples:
      campaignd org reset-rules acme
      campaignd org reset-rules acme --category product-updates
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> frequency.RulesView:
        return await frequency.reset_rules(
            services, principal, category=category, organization=slug
        )

    _print_rules(run_action(settings, work), as_json)


@app.command("show")
def show(
    slug: str = typer.Argument(..., metavar="SLUG", help="The organization's slug."),
    as_json: bool = JSON,
) -> None:
    """Show an organization's frequency rules and its categories."""
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> frequency.RulesView:
        return await frequency.show_rules(services, principal, organization=slug)

    _print_rules(run_action(settings, work), as_json)
