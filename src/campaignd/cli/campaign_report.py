"""``campaignd campaign report`` and ``campaignd campaign compare``: what happened after
sending, as a table, JSON or (per recipient) CSV."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import typer
from rich.table import Table

from campaignd.actions import campaign_report as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.common import console, errors, fail
from campaignd.cli.output import print_json, print_table
from campaignd.cli.progress import rows_progress

CAMPAIGN_ID = typer.Argument(
    ..., metavar="ID", help="The campaign's id (see `campaignd campaign list`)."
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def summary_document(summary: actions.Summary) -> dict[str, Any]:
    return {
        "campaignId": summary.campaign_id,
        "name": summary.name,
        "status": summary.status,
        "organization": summary.organization,
        "startedAt": summary.started_at.isoformat() if summary.started_at else None,
        "trackClicks": summary.track_clicks,
        "trackOpens": summary.track_opens,
        "outcomes": asdict(summary.outcomes),
        "engagement": {
            **{_camel(key): value for key, value in asdict(summary.engagement).items()},
            "openRate": summary.open_rate,
            "clickThroughRate": summary.click_through_rate,
            "clickToOpenRate": summary.click_to_open_rate,
        },
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def report_document(report: actions.Report) -> dict[str, Any]:
    return summary_document(report) | {
        "links": [
            {"index": link.index, "url": link.url, "clicks": link.clicks}
            | {"uniqueClicks": link.unique_clicks}
            for link in report.links
        ],
        "machineReasons": report.machine_reasons,
        "timeline": [
            {"hour": point.hour.isoformat(), "opens": point.opens, "clicks": point.clicks}
            for point in report.timeline
        ],
    }


def _print_report(report: actions.Report) -> None:
    outcomes, engagement = report.outcomes, report.engagement
    console.print(
        f"campaign {report.campaign_id} '{report.name}' ({report.organization}), {report.status}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    table = Table("figure", "value")
    rows = [
        ("sent", outcomes.sent),
        ("delivered", outcomes.delivered),
        ("failed", outcomes.failed),
        ("bounced", outcomes.bounced),
        ("complained", outcomes.complained),
        ("unsubscribed", outcomes.unsubscribed),
        ("unique opens (people)", engagement.unique_opens if report.track_opens else "off"),
        ("opened by machines only", engagement.machine_opens if report.track_opens else "off"),
        ("open rate", percent(report.open_rate) if report.track_opens else "off"),
        ("unique clicks", engagement.unique_clicks if report.track_clicks else "off"),
        ("clicks", engagement.clicks if report.track_clicks else "off"),
        ("click-through rate", percent(report.click_through_rate)),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    print_table(table)
    if report.links:
        links = Table("#", "url", "clicks", "unique")
        for link in report.links:
            links.add_row(str(link.index), link.url, str(link.clicks), str(link.unique_clicks))
        print_table(links)


def report(
    campaign_id: int = CAMPAIGN_ID,
    as_json: bool = JSON,
    csv: Path | None = typer.Option(
        None,
        "--csv",
        metavar="FILE",
        help="Write the per-recipient outcomes as CSV to FILE ('-' for standard output) "
        "instead of the figures.",
    ),
) -> None:
    """What happened after sending: opens, clicks, unsubscribes.

    Sent, delivered, bounced, complained, unsubscribed, opens (people and machines apart),
    clicks, rates and clicks per link.

    With --csv: one line per recipient (email, status, code, reason, sent_at, opened,
    opened_by_machine, clicked, unsubscribed), read a page at a time (flat memory); a bar
    on stderr counts the rows.

    \b
    Examples:
      campaignd campaign report 12
      campaignd campaign report 12 --json | jq .engagement
      campaignd campaign report 12 --csv winter-outcomes.csv
    """
    settings = prepared_settings()
    if csv is not None:
        _export(settings, campaign_id, None if str(csv) == "-" else csv)
        return

    async def work(services: Services, principal: Principal) -> actions.Report:
        return await actions.campaign_report(services, principal, campaign_id)

    found = run_action(settings, work)
    if as_json:
        print_json(report_document(found))
    else:
        _print_report(found)


def _partial(output: Path) -> Path:
    return output.with_name(f".{output.name}.part")


def _export(settings: Any, campaign_id: int, output: Path | None) -> None:
    if output is not None and output.is_dir():
        raise fail(f"--csv: {output} is a folder; name a file")
    if output is not None and not output.parent.is_dir():
        raise fail(f"--csv: there is no folder {output.parent}")
    show_bar = errors.is_terminal and (output is not None or not sys.stdout.isatty())

    async def work(services: Services, principal: Principal) -> int:
        export = await actions.export_outcomes(services, principal, campaign_id)
        with contextlib.ExitStack() as stack:
            target: IO[bytes] = (
                sys.stdout.buffer
                if output is None
                else stack.enter_context(_partial(output).open("wb"))
            )
            target.write(export.header.encode("utf-8"))
            progress = stack.enter_context(rows_progress()) if show_bar else None
            task = progress.add_task("exporting", total=export.total) if progress else None
            written = 0
            async for page in export.pages:
                target.write(page.text.encode("utf-8"))
                written += page.rows
                if progress is not None and task is not None:
                    progress.advance(task, page.rows)
            target.flush()
        return written

    try:
        written = run_action(settings, work)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except BaseException:
        if output is not None:
            _partial(output).unlink(missing_ok=True)
        raise
    if output is None:
        errors.print(f"exported {written} recipients", highlight=False, markup=False)
        return
    _partial(output).replace(output)
    console.print(
        f"exported {written} recipients to {output}", highlight=False, markup=False, soft_wrap=True
    )


def compare(
    org: str | None = typer.Option(
        None, "--org", metavar="SLUG", help="The organization (required for platform admins)."
    ),
    last: int = typer.Option(
        10, "--last", metavar="N", min=1, max=actions.MAX_COMPARED, help="How many campaigns."
    ),
    as_json: bool = JSON,
) -> None:
    """An organization's last campaigns side by side.

    The figures of its last N campaigns that started, newest first.

    \b
    Example:
      campaignd campaign compare --org acme --last 5
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[actions.Summary]]:
        return await actions.compare_campaigns(services, principal, organization=org, limit=last)

    slug, summaries = run_action(settings, work)
    if as_json:
        print_json(
            {"organization": slug, "campaigns": [summary_document(item) for item in summaries]}
        )
        return
    table = Table("id", "name", "started", "sent", "delivered", "opens", "clicks", "CTR", "unsub")
    for item in summaries:
        table.add_row(
            str(item.campaign_id),
            item.name,
            item.started_at.strftime("%Y-%m-%d %H:%M") if item.started_at else "-",
            str(item.outcomes.sent),
            str(item.outcomes.delivered),
            str(item.engagement.unique_opens) if item.track_opens else "off",
            str(item.engagement.unique_clicks) if item.track_clicks else "off",
            percent(item.click_through_rate),
            str(item.outcomes.unsubscribed),
        )
    print_table(table)
