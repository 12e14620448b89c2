"""``campaignd segment``: saved filters over an organization's contacts, counted live."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from campaignd.actions import segments as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, fail
from campaignd.cli.output import JSON, json_value, print_json, print_table, record
from campaignd.store.segments import SampleContact, Segment

app = command_group("Manage segments: saved filters over contacts, counted live.")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
NAME = typer.Argument(..., metavar="NAME", help="The segment's name.")
FILTER = typer.Option(
    None, "--filter", metavar="JSON", help="The filter, as JSON text (see docs/audience.md)."
)
FILTER_FILE = typer.Option(
    None, "--filter-file", metavar="FILE", help="Read the filter from a JSON file (- for stdin)."
)
SAMPLE = typer.Option(10, "--sample", metavar="N", help="Contacts to show.", min=0, max=100)
SEGMENT_FIELDS = ("id", "organization", "name", "description", "filter", "created_at", "updated_at")


def read_filter(text: str | None, file: str | None, *, required: bool) -> Any:
    """The filter's JSON from ``--filter`` or ``--filter-file``; None when neither is given."""
    if text is not None and file is not None:
        raise fail("give the filter with --filter or with --filter-file, not both")
    if text is None and file is None:
        if required:
            raise fail("a filter is needed: --filter JSON or --filter-file FILE")
        return None
    source = "--filter"
    if file is not None:
        source = f"--filter-file {file}"
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise fail(f"{source}: cannot read it: {error}") from None
    assert text is not None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise fail(f"{source}: not valid JSON: {error}") from None


def segment_record(segment: Segment) -> dict[str, Any]:
    document = record(asdict(segment), SEGMENT_FIELDS)
    document["filterText"] = actions.filter_text(segment.filter)
    return document


def sample_table(sample: list[SampleContact]) -> Table:
    table = Table("email", "attributes")
    for contact in sample:
        table.add_row(contact.email, json.dumps(contact.attributes, ensure_ascii=False))
    return table


def matching(count: int, where: str = "") -> str:
    """``1 subscribed contact matches``, ``2,431 subscribed contacts in acme match``."""
    if count == 1:
        return f"1 subscribed contact{where} matches"
    return f"{count:,} subscribed contacts{where} match"


def print_count(count: actions.Count, words: str) -> None:
    say(f"{matching(count.count, f' in {count.organization}')}: {words}")
    if count.sample:
        say(f"the first {len(count.sample)}:" if len(count.sample) > 1 else "the first:")
        print_table(sample_table(count.sample))


def count_record(count: actions.Count) -> dict[str, Any]:
    return {
        "organization": count.organization,
        "count": count.count,
        "sample": [json_value(asdict(contact)) for contact in count.sample],
    }


def say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)


@app.command("create")
def create(
    name: str = NAME,
    org: str = ORGANIZATION,
    filter_text: str | None = FILTER,
    filter_file: str | None = FILTER_FILE,
    description: str | None = typer.Option(
        None, "--description", metavar="TEXT", help="What the segment is for."
    ),
) -> None:
    """Save a filter as a segment and say how many contacts it selects.

    Only subscribed contacts count. Every list and campaign the filter names must exist
    in the organization.

    \b
    Examples:
      campaignd segment create "Pro in DACH" --org acme --filter '{"all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT", "CH"]}]}'
      campaignd segment create "Lapsed" --org acme --filter '{"all": [
        {"engagement": "clicked", "within": "90d"},
        {"not": {"engagement": "opened", "campaign": "Welcome"}}]}'
    """
    document = read_filter(filter_text, filter_file, required=True)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[Segment, actions.Count]:
        created = await actions.create_segment(
            services,
            principal,
            name=name,
            filter=document,
            description=description,
            organization=org,
        )
        return await actions.count_segment(services, principal, created.id, sample=0)

    segment, count = run_action(settings, work)
    say(
        f"created segment '{segment.name}' in {segment.organization} (id {segment.id}): "
        f"{matching(count.count)} now"
    )


@app.command("list")
def list_(
    org: str = ORGANIZATION,
    limit: int = typer.Option(
        1000, metavar="N", help="How many (in name order).", min=1, max=100_000
    ),
    as_json: bool = JSON,
) -> None:
    """List an organization's segments with their filters in words.

    \b
    Example:
      campaignd segment list --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[Segment], bool]:
        slug, rows, more = await actions.list_segments(
            services, principal, organization=org, limit=limit
        )
        return slug, rows, more is not None

    slug, rows, more = run_action(settings, work)
    if as_json:
        print_json(
            {
                "organization": slug,
                "segments": [segment_record(row) for row in rows],
                "more": more,
            }
        )
        return
    table = Table("id", "name", "filter", "description", "updated")
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            actions.filter_text(row.filter),
            row.description or "",
            format_time(row.updated_at),
        )
    print_table(table)
    if more:
        console.print(f"(more segments: raise --limit above {limit})")


@app.command("show")
def show(
    name: str = NAME, org: str = ORGANIZATION, sample: int = SAMPLE, as_json: bool = JSON
) -> None:
    """Show a segment's filter, its live count and a sample.

    \b
    Example:
      campaignd segment show "Pro in DACH" --org acme --sample 5
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[Segment, actions.Count]:
        return await actions.count_segment(
            services, principal, name, organization=org, sample=sample
        )

    segment, count = run_action(settings, work)
    if as_json:
        print_json(segment_record(segment) | count_record(count))
        return
    say(f"segment '{segment.name}' in {segment.organization} (id {segment.id})")
    if segment.description:
        say(f"description: {segment.description}")
    say(f"filter: {json.dumps(segment.filter, ensure_ascii=False)}")
    print_count(count, actions.filter_text(segment.filter))


@app.command("count")
def count(
    org: str = ORGANIZATION,
    filter_text: str | None = FILTER,
    filter_file: str | None = FILTER_FILE,
    sample: int = SAMPLE,
    as_json: bool = JSON,
) -> None:
    """Count the contacts a filter selects now, without saving it.

    \b
    Example:
      campaignd segment count --org acme --filter \\
        '{"attribute": "signed_up_at", "op": "after", "value": "now-30d"}'
    """
    document = read_filter(filter_text, filter_file, required=True)
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Count:
        return await actions.count_filter(
            services, principal, document, organization=org, sample=sample
        )

    counted = run_action(settings, work)
    if as_json:
        print_json(count_record(counted))
        return
    print_count(counted, actions.filter_text(document))


@app.command("edit")
def edit(
    name: str = NAME,
    org: str = ORGANIZATION,
    new_name: str | None = typer.Option(None, "--name", metavar="NAME", help="A new name."),
    description: str | None = typer.Option(
        None, "--description", metavar="TEXT", help='A new description ("" removes it).'
    ),
    filter_text: str | None = FILTER,
    filter_file: str | None = FILTER_FILE,
) -> None:
    """Rename a segment, or change its description or its filter.

    Campaigns that target it use the new filter from their next fan-out on.

    \b
    Example:
      campaignd segment edit "Pro in DACH" --org acme --name "Pro, DACH"
    """
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = new_name
    if description is not None:
        changes["description"] = description
    document = read_filter(filter_text, filter_file, required=False)
    if document is not None:
        changes["filter"] = document
    if not changes:
        raise fail("nothing to change: give --name, --description, --filter or --filter-file")
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Segment:
        return await actions.edit_segment(services, principal, name, changes, organization=org)

    segment = run_action(settings, work)
    say(f"segment '{segment.name}' in {segment.organization}: changed {', '.join(sorted(changes))}")


@app.command("delete")
def delete(name: str = NAME, org: str = ORGANIZATION) -> None:
    """Delete a segment no campaign still to be sent targets.

    \b
    Example:
      campaignd segment delete "Pro in DACH" --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Segment:
        return await actions.delete_segment(services, principal, name, organization=org)

    segment = run_action(settings, work)
    say(f"deleted segment '{segment.name}' from {segment.organization}")
