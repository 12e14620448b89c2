"""Ten million recipients on PostgreSQL: import, fan-out, memory, size and the campaign page.

One run, on a new database, through the real commands:

1. a CSV file of N recipients (address and three variables) is written;
2. ``campaignd campaign import`` loads it into a draft campaign (``COPY``, streamed, its
   progress bar on this terminal): rows per second, and the peak memory of that process;
3. the database size per recipient (table and indexes of ``deliveries``);
4. the campaign is scheduled and ``campaignd serve`` (PostgreSQL + Redis) fans it out and
   sends it to the minimal SMTP sink: the fan-out rate (``runs.fanout_seconds``), the
   resident set of ``serve`` every half second through the fan-out and the first
   ``--deliveries`` messages, and the sending rate;
5. while it sends, ``GET /campaigns/{id}`` from ``--clients`` clients for
   ``--page-seconds``: p50 and p99;
6. the size per recipient again, with the cooldown ledger and the ledger entries the
   fan-out wrote;
7. with ``--mostly-sent F``: the first fraction F of the campaign's deliveries still queued
   are marked sent in the database (in batches of 100,000, as if delivered: sending ten
   million through SMTP here would take two hours), while ``serve`` goes on sending the
   rest, and the page is asked for again: p50 and p99 of a campaign mostly sent.

    python -m benchmarks.ten_million                                  # 10,000,000
    python -m benchmarks.ten_million --recipients 1000000 --deliveries 50000
    python -m benchmarks.ten_million --split      # API, scheduler, worker: three processes
    python -m benchmarks.ten_million --mostly-sent 0.9   # the page again, 90 % sent

``serve`` runs every role in one process by default; the campaign page then shares its
event loop with the sending. ``--split`` runs them as three (``serve --role``), as a
deployment that sends large campaigns would, and reports the largest of their memories.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from sqlalchemy import update

from benchmarks.campaign_page import hammer, percentile
from benchmarks.common import (
    CITIES,
    SmtpSink,
    add_postgres_option,
    create_campaign,
    create_organization,
    postgres_database,
    required_postgres,
)
from benchmarks.memory import ServedInstance, campaignd_command, campaignd_environment, memory_of
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns
from campaignd.store.tokens import create_token

console = Console(width=140)
START_DELAY = 10.0
"""Seconds from scheduling the campaign to its being due: ``serve`` is up and idle then."""
TARGETS = {
    "import": 200_000.0,  # rows/s
    "fan-out": 100_000.0,  # recipients/s
    "memory": 300.0,  # MB
    "page": 0.100,  # s, p99
}


@dataclass
class Figures:
    recipients: int
    import_seconds: float = 0.0
    import_peak_mb: float = 0.0
    bytes_after_import: int = 0
    fanout_seconds: float = 0.0
    idle_mb: float = 0.0
    fanout_peak_mb: float = 0.0
    sending_peak_mb: float = 0.0
    sent: int = 0
    sending_seconds: float = 0.0
    page: list[float] = field(default_factory=list)
    mostly_sent: int = 0
    mostly_sent_seconds: float = 0.0
    page_mostly_sent: list[float] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[float, str, float]] = field(default_factory=list)


def write_csv(path: Path, recipients: int) -> None:
    """``email,first_name,city,since`` for person1 .. personN, written in blocks."""
    block = 100_000
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,city,since\n")
        for first in range(1, recipients + 1, block):
            last = min(recipients, first + block - 1)
            out.write(
                "".join(
                    f"person{n}@example.org,Person {n},{CITIES[n % len(CITIES)]},{2010 + n % 15}\n"
                    for n in range(first, last + 1)
                )
            )


async def draft_campaign(url: str) -> tuple[int, str]:
    """A draft campaign (no recipients yet) and a platform token."""
    database = Database(url)
    try:
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
            campaign_id = await create_campaign(connection, organization_id)
            _, token = await create_token(
                connection, role="platform_admin", organization_id=None, name="benchmark"
            )
    finally:
        await database.dispose()
    return campaign_id, token


async def schedule(url: str, campaign_id: int) -> None:
    database = Database(url)
    try:
        async with database.transaction() as connection:
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(
                    status=CampaignStatus.SCHEDULED.value,
                    scheduled_for=utcnow() + timedelta(seconds=START_DELAY),
                )
            )
    finally:
        await database.dispose()


def run_import(url: str, campaign_id: int, path: Path, figures: Figures) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        campaignd_command("campaign", "import", str(campaign_id), str(path)),
        env=campaignd_environment(url),
        check=True,
    )
    figures.import_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures.import_peak_mb = max(peak, before) / 1024


def sizes(url: str) -> dict[str, int]:
    """Bytes of each table that grows with the recipients, indexes and TOAST included."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname IN ('deliveries', 'cooldown_ledger', 'ledger_entries')"
        ).fetchall()
    return {str(name): int(size) for name, size in rows}


def run_state(url: str, campaign_id: int) -> tuple[str, float | None, int]:
    """(campaign status, fan-out seconds or None, messages sent) of the newest run."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT c.status, r.fanout_seconds, COALESCE(r.sent, 0) FROM campaigns c "
            "LEFT JOIN runs r ON r.campaign_id = c.id WHERE c.id = %s "
            "ORDER BY r.id DESC LIMIT 1",
            (campaign_id,),
        ).fetchone()
    assert row is not None
    return str(row[0]), None if row[1] is None else float(row[1]), int(row[2])


MARK_BATCH = 100_000


def mark_sent(url: str, campaign_id: int, fraction: float) -> int:
    """Mark the first ``fraction`` of the campaign's queued deliveries sent, by id, in
    batches (each its own transaction); how many. Rows the worker has locked are passed
    over (``SKIP LOCKED``), so marking never waits for it nor deadlocks with it."""
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*), min(id) FROM deliveries WHERE campaign_id = %s AND status = 'queued'",
            (campaign_id,),
        ).fetchone()
        assert row is not None
        wanted, low = int(int(row[0]) * fraction), row[1]
        marked = 0
        while low is not None and marked < wanted:
            batch = min(MARK_BATCH, wanted - marked)
            marked += connection.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = now(), "
                "server_reply = '250 marked by the benchmark' WHERE id IN ("
                "SELECT id FROM deliveries WHERE campaign_id = %s AND status = 'queued' "
                "AND id >= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)",
                (campaign_id, low, batch),
            ).rowcount
            found = connection.execute(
                "SELECT min(id) FROM deliveries WHERE campaign_id = %s AND status = 'queued' "
                "AND id >= %s",
                (campaign_id, low),
            ).fetchone()
            low = None if found is None else found[0]
            console.print(f"  marked {marked:,} of {wanted:,} sent", highlight=False)
    return marked


def served_role(directory: Path, url: str, role: str, settings: dict[str, str]) -> ServedInstance:
    """A ``serve`` process of ``role``; a scheduler or worker answers ``/healthz`` on its
    metrics port, which is then its port."""
    instance = ServedInstance(directory, url, role=role, **settings)
    if role in ("scheduler", "worker"):
        instance.environment["CAMPAIGND_METRICS_PORT"] = str(instance.port)
    return instance


def run_serve(
    url: str, directory: Path, campaign_id: int, token: str, options: argparse.Namespace
) -> Figures:
    figures = Figures(options.recipients)
    redis = os.environ.get("CAMPAIGND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    with SmtpSink(kind="minimal") as sink, contextlib.ExitStack() as stack:
        settings = {"email_transport": sink.url, "redis_url": redis}
        roles = ("api", "scheduler", "worker") if options.split else ("all",)
        instances = [
            stack.enter_context(served_role(directory, url, role, settings)) for role in roles
        ]
        api = instances[0]

        def resident() -> float:
            """The largest resident set of the processes (MB)."""
            return max(memory_of(instance.pid)[0] for instance in instances)

        def ask_for_page() -> list[float]:
            """Latencies of ``GET /campaigns/{id}`` from the clients for the page seconds."""
            latencies, _ = asyncio.run(
                hammer(
                    api.base_url,
                    token,
                    campaign_id,
                    clients=options.clients,
                    seconds=options.page_seconds,
                )
            )
            return latencies

        figures.idle_mb = resident()
        asyncio.run(schedule(url, campaign_id))
        started = time.monotonic()
        phase, status, fanout, sent = "waiting", "scheduled", None, 0
        while status == "scheduled" or fanout is None:
            time.sleep(0.5)
            status, fanout, sent = run_state(url, campaign_id)
            current = resident()
            phase = "fan-out" if status != "scheduled" else "waiting"
            figures.samples.append((time.monotonic() - started, phase, current))
            if phase == "fan-out":
                figures.fanout_peak_mb = max(figures.fanout_peak_mb, current)
            if status not in ("scheduled", "sending", "paused"):
                break
        assert fanout is not None, f"the campaign is {status} and never fanned out"
        figures.fanout_seconds = fanout
        console.print(f"fanned out in {fanout:.1f} s; sending")
        sending_started, first_sent = time.monotonic(), sent
        figures.page = ask_for_page()
        while sent < options.deliveries and status == "sending":
            time.sleep(0.5)
            status, _, sent = run_state(url, campaign_id)
            current = resident()
            figures.samples.append((time.monotonic() - started, "sending", current))
            figures.sending_peak_mb = max(figures.sending_peak_mb, current)
        figures.sent = sent - first_sent
        figures.sending_seconds = time.monotonic() - sending_started
        figures.sizes = sizes(url)  # before any marking rewrites rows
        if options.mostly_sent:
            marking_started = time.monotonic()
            figures.mostly_sent = mark_sent(url, campaign_id, options.mostly_sent)
            figures.mostly_sent_seconds = time.monotonic() - marking_started
            console.print(
                f"marked {figures.mostly_sent:,} sent in {figures.mostly_sent_seconds:.0f} s; "
                "asking for the page again"
            )
            figures.page_mostly_sent = ask_for_page()
    return figures


def report(figures: Figures) -> None:
    recipients = figures.recipients
    import_rate = recipients / figures.import_seconds
    fanout_rate = recipients / figures.fanout_seconds if figures.fanout_seconds else 0.0
    peak = max(figures.fanout_peak_mb, figures.sending_peak_mb)
    p50 = statistics.median(figures.page) if figures.page else float("nan")
    p99 = percentile(figures.page, 0.99) if figures.page else float("nan")
    rows = [
        (
            "import (CLI, COPY)",
            f"{import_rate:,.0f} rows/s",
            ">= 200,000 rows/s",
            import_rate >= TARGETS["import"],
        ),
        ("import process, peak memory", f"{figures.import_peak_mb:,.0f} MB", "", None),
        (
            "fan-out (serve)",
            f"{fanout_rate:,.0f} recipients/s",
            ">= 100,000/s",
            fanout_rate >= TARGETS["fan-out"],
        ),
        ("serve memory, idle", f"{figures.idle_mb:,.0f} MB", "", None),
        (
            "serve memory, peak through fan-out",
            f"{figures.fanout_peak_mb:,.0f} MB",
            "< 300 MB",
            figures.fanout_peak_mb < TARGETS["memory"],
        ),
        (
            f"serve memory, peak through {figures.sent:,} deliveries",
            f"{figures.sending_peak_mb:,.0f} MB",
            "< 300 MB",
            peak < TARGETS["memory"],
        ),
        (
            "sending rate",
            f"{figures.sent / max(figures.sending_seconds, 1e-9):,.0f} msg/s",
            "",
            None,
        ),
        (
            f"GET /campaigns/{{id}} while sending ({len(figures.page):,} requests)",
            f"p50 {p50 * 1000:,.1f} ms, p99 {p99 * 1000:,.1f} ms",
            "p99 < 100 ms",
            p99 < TARGETS["page"],
        ),
        (
            "deliveries after import",
            f"{figures.bytes_after_import / recipients:,.0f} B/recipient",
            "",
            None,
        ),
    ]
    if figures.page_mostly_sent:
        page = figures.page_mostly_sent
        mostly_p99 = percentile(page, 0.99)
        rows.append(
            (
                f"GET /campaigns/{{id}}, {figures.mostly_sent:,} marked sent ({len(page):,})",
                f"p50 {statistics.median(page) * 1000:,.1f} ms, p99 {mostly_p99 * 1000:,.1f} ms",
                "p99 < 100 ms",
                mostly_p99 < TARGETS["page"],
            )
        )
    for table, size in sorted(figures.sizes.items()):
        rows.append((f"{table} after fan-out", f"{size / recipients:,.0f} B/recipient", "", None))
    total = sum(figures.sizes.values())
    rows.append(("all three after fan-out", f"{total / recipients:,.0f} B/recipient", "", None))
    console.print(f"\n[bold]{recipients:,} recipients on PostgreSQL[/bold]")
    for name, value, target, met in rows:
        verdict = "" if met is None else ("met" if met else "NOT met")
        console.print(f"  {name:<52} {value:>34}  {target:<18} {verdict}", highlight=False)


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000_000)
    parser.add_argument(
        "--deliveries", type=int, default=100_000, help="messages sent before stopping"
    )
    parser.add_argument("--clients", type=int, default=2, help="clients asking for the page")
    parser.add_argument("--page-seconds", type=float, default=20.0)
    parser.add_argument(
        "--split",
        action="store_true",
        help="the API, the scheduler and a worker in three serve processes (--role)",
    )
    parser.add_argument(
        "--mostly-sent",
        type=float,
        default=0.0,
        metavar="F",
        help="then mark the first fraction F of the queued deliveries sent and ask again",
    )
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    if not 0.0 <= options.mostly_sent < 1.0:
        parser.error("--mostly-sent: a fraction from 0 up to (not including) 1")
    base = required_postgres(parser, options.postgres)
    console.print(f"{time.strftime('%H:%M:%S')} load average {os.getloadavg()[0]:.2f}")
    with postgres_database(base) as url, tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        path = directory / "recipients.csv"
        console.print(f"writing {options.recipients:,} recipients to {path.name}")
        write_csv(path, options.recipients)
        campaign_id, token = asyncio.run(draft_campaign(url))
        figures_import = Figures(options.recipients)
        run_import(url, campaign_id, path, figures_import)
        path.unlink()
        after_import = sizes(url).get("deliveries", 0)
        figures = run_serve(url, directory, campaign_id, token, options)
        figures.import_seconds = figures_import.import_seconds
        figures.import_peak_mb = figures_import.import_peak_mb
        figures.bytes_after_import = after_import
    report(figures)
    console.print(f"{time.strftime('%H:%M:%S')} load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
