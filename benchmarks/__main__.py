"""``python -m benchmarks``: every figure of campaignd beside a baseline measured in the same run.

    python -m benchmarks                       # full run (100k and 1M recipients)
    python -m benchmarks --quick               # small sizes, under about a minute
    python -m benchmarks --skip postgres,memory --sizes 100000
    python -m benchmarks --only fanout --postgres postgresql://postgres@127.0.0.1/test
    python -m benchmarks --only segments --segment-contacts 1000000
    python -m benchmarks --only contacts --contact-rows 1000000
    python -m benchmarks --only suppressions --suppression-rows 100000,1000000
    python -m benchmarks --only webhooks --messages 20000

PostgreSQL comes from ``--postgres URL`` or ``CAMPAIGND_TEST_DATABASE_URL``: each figure
gets a new database created next to it and dropped afterwards. Without either, the
PostgreSQL figures are skipped and say so.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from benchmarks import baselines, contacts_upsert, suppressions_csv
from benchmarks.common import (
    COOLDOWN_DAYS,
    SmtpSink,
    analyse,
    bench_settings,
    create_campaign,
    create_organization,
    database_url,
    email_of,
    insert_recipients,
    now_utc,
    postgres_base_url,
    seed_audience,
    seed_list_audience,
    seed_queued,
    start_manually,
    variables_of,
    workers_in_processes,
)
from benchmarks.content import measure_content
from benchmarks.dkim import measure_dkim
from benchmarks.memory import ServedInstance, campaign_memory, campaignd_command
from benchmarks.memory import campaignd_environment as subprocess_environment
from benchmarks.report import Figure, Report, machine_description, markdown, render
from benchmarks.segment_count import measure_segment_count
from benchmarks.webhooks import measure_webhooks
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.schema import runs
from campaignd.store.tokens import create_token

SECTIONS = (
    "fanout",
    "delivery",
    "dkim",
    "content",
    "lateness",
    "waves",
    "memory",
    "import",
    "segments",
    "contacts",
    "suppressions",
    "webhooks",
)
console = Console() if Console().is_terminal else Console(width=200, no_color=True)


@dataclass(frozen=True)
class Plan:
    """What to measure and how big, from the command line."""

    sizes: tuple[int, ...]
    baseline_sample: int
    messages: int
    baseline_messages: int
    connections: int
    lateness_campaigns: int
    lateness_recipients: int
    memory_sizes: tuple[int, ...]
    import_rows: int
    segment_contacts: int
    contact_rows: int
    suppression_sizes: tuple[int, ...]
    sections: tuple[str, ...]
    postgres: str | None
    directory: Path

    def runs(self, section: str) -> bool:
        return section in self.sections


def step(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}", highlight=False)


# ---------------------------------------------------------------- fan-out


async def _fan_out_rate(
    url: str, recipients: int, *, from_list: bool = False
) -> tuple[float, dict[str, int]]:
    """Seed, start and fan out one campaign; (recipients per second, counts).

    ``from_list``: the campaign has no recipients of its own but targets a list of
    ``recipients`` contacts, so the fan-out also resolves them into deliveries.
    """
    database = Database(url)
    try:
        seeded = seed_list_audience if from_list else seed_audience
        audience = await seeded(database, recipients)
        if not database.is_sqlite:
            await analyse(database)
        await start_manually(database, audience.campaign_id)
        rules = CooldownRules(days=COOLDOWN_DAYS, scope="global")
        started = time.perf_counter()
        async with database.transaction() as connection:
            counts = await fan_out(connection, audience.campaign_id, rules=rules, now=utcnow())
        seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    assert counts is not None
    assert counts.get("skipped", 0) == audience.in_cooldown, counts
    assert counts.get("queued", 0) == recipients - audience.in_cooldown, counts
    return recipients / seconds, counts


async def _baseline_fan_out_rate(url: str, recipients: int) -> float:
    database = Database(url)
    try:
        audience = await seed_audience(database, recipients)
        if not database.is_sqlite:
            await analyse(database)
        await start_manually(database, audience.campaign_id)
        count, seconds = await baselines.fan_out_one_by_one(
            database, audience.campaign_id, cooldown_days=COOLDOWN_DAYS, now=now_utc()
        )
    finally:
        await database.dispose()
    return count / seconds


def measure_fan_out(plan: Plan, report: Report) -> None:
    kinds = ["sqlite"]
    if plan.postgres:
        kinds.append("postgresql")
    else:
        report.problems.append("fan-out on PostgreSQL: no --postgres URL")
    for kind in kinds:
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        step(f"fan-out baseline on {label}: {plan.baseline_sample:,} recipients one by one")
        with database_url(kind, plan.directory, plan.postgres) as url:
            baseline = asyncio.run(_baseline_fan_out_rate(url, plan.baseline_sample))
        for size in plan.sizes:
            step(f"fan-out on {label}: {size:,} recipients, a fifth in cooldown")
            with database_url(kind, plan.directory, plan.postgres) as url:
                rate, _ = asyncio.run(_fan_out_rate(url, size))
            minimum = 100_000 if kind == "sqlite" else 50_000
            report.add(
                Figure(
                    section="fan-out",
                    name=f"{label}, {size:,} recipients",
                    value=rate,
                    unit="/s",
                    baseline=baseline,
                    baseline_note=f"{plan.baseline_sample // 1000}k one by one",
                    target=f">= 30x, >= {minimum // 1000}k/s",
                    met=rate >= 30 * baseline and rate >= minimum,
                )
            )
            step(f"fan-out on {label}: a list of {size:,} contacts, a fifth in cooldown")
            with database_url(kind, plan.directory, plan.postgres) as url:
                list_rate, _ = asyncio.run(_fan_out_rate(url, size, from_list=True))
            report.add(
                Figure(
                    section="fan-out",
                    name=f"{label}, a list of {size:,} contacts",
                    value=list_rate,
                    unit="/s",
                    baseline=rate,
                    baseline_note="as many explicit recipients",
                    target=">= 100k/s",
                    met=list_rate >= 100_000,
                    note="resolving the list into deliveries included",
                )
            )


# ---------------------------------------------------------------- delivery


async def _queue_messages(url: str, messages: int) -> None:
    database = Database(url)
    try:
        await seed_queued(database, messages)
    finally:
        await database.dispose()


@dataclass(frozen=True)
class DeliveryCase:
    kind: str
    processes: int
    connections: int
    sink: str


def delivery_cases(plan: Plan) -> list[DeliveryCase]:
    """The default setting on both databases, then more connections and the minimal sink."""
    more = max(32, plan.connections)
    cases = [
        DeliveryCase("sqlite", 1, plan.connections, "aiosmtpd"),
        DeliveryCase("sqlite", 2, plan.connections, "aiosmtpd"),
        DeliveryCase("sqlite", 1, more, "aiosmtpd"),
        DeliveryCase("sqlite", 1, more, "minimal"),
        DeliveryCase("sqlite", 2, more, "minimal"),
    ]
    if plan.postgres:
        cases += [
            DeliveryCase("postgresql", 1, plan.connections, "aiosmtpd"),
            DeliveryCase("postgresql", 2, plan.connections, "aiosmtpd"),
            DeliveryCase("postgresql", 1, more, "aiosmtpd"),
            DeliveryCase("postgresql", 2, more, "minimal"),
        ]
    return cases


def measure_delivery(plan: Plan, report: Report) -> None:
    cases = delivery_cases(plan)
    baselines_by_sink: dict[str, float] = {}
    for kind in ("aiosmtpd", "minimal"):
        step(f"delivery baseline: {plan.baseline_messages:,} messages to the {kind} sink")
        with SmtpSink(kind=kind) as sink:
            sent, seconds = baselines.send_one_connection_each(sink.port, plan.baseline_messages)
            baselines_by_sink[kind] = sent / seconds
    for case in cases:
        label = "SQLite" if case.kind == "sqlite" else "PostgreSQL"
        plural = "es" if case.processes > 1 else ""
        step(
            f"delivery on {label}: {plan.messages:,} messages, {case.processes} process{plural}, "
            f"{case.connections} connections each, {case.sink} sink"
        )
        with (
            SmtpSink(kind=case.sink) as sink,
            database_url(case.kind, plan.directory, plan.postgres) as url,
        ):
            asyncio.run(_queue_messages(url, plan.messages))
            seconds = workers_in_processes(
                url, sink.url, processes=case.processes, connections=case.connections
            )
            received = sink.received
        rate = received / seconds
        baseline = baselines_by_sink[case.sink]
        one = case.processes == 1
        note = f"{case.connections} connections each, {case.sink} sink"
        if received != plan.messages:
            note += f", {received:,} of {plan.messages:,} received"
        report.add(
            Figure(
                section="delivery",
                name=f"{label}, {case.processes} process{plural}",
                value=rate,
                unit="msg/s",
                baseline=baseline,
                baseline_note=f"{case.sink} sink",
                target=">= 5x, >= 2,000/s" if one else ">= 5x",
                met=rate >= 5 * baseline and (rate >= 2000 or not one),
                note=note,
            )
        )
    if not plan.postgres:
        report.problems.append("delivery on PostgreSQL: no --postgres URL")


# ---------------------------------------------------------------- DKIM


def measure_signing(plan: Plan, report: Report) -> None:
    """Signing cost per message, and delivery signed with RSA-2048 beside unsigned."""
    measure_dkim(
        report,
        step,
        messages=plan.messages,
        connections=plan.connections,
        directory=plan.directory,
        quick=plan.messages < 10_000,
    )


# ---------------------------------------------------------------- scheduler lateness


async def _lateness(url: str, campaigns_due: int, recipients: int) -> list[float]:
    """``campaigns_due`` campaigns due in the same second; the scheduler's lateness of each."""
    from campaignd.scheduling.lock import create_lock
    from campaignd.scheduling.scheduler import Scheduler
    from campaignd.wakeups import LocalWakeups

    database = Database(url)
    settings = bench_settings(url)
    try:
        due = now_utc().replace(microsecond=0) + timedelta(seconds=4)
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
            for number in range(campaigns_due):
                campaign_id = await create_campaign(
                    connection,
                    organization_id,
                    name=f"Due together {number}",
                    status=CampaignStatus.SCHEDULED,
                    scheduled_for=due,
                )
                first = number * recipients + 1
                await insert_recipients(
                    connection, campaign_id, first=first, last=first + recipients - 1
                )
        scheduler = Scheduler(
            database,
            settings,
            lock=create_lock(settings.model_copy(update={"redis_url": None})),
            wakeups=LocalWakeups(),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(scheduler.run(stop))
        deadline = time.monotonic() + 60 + (due - now_utc()).total_seconds()
        values: list[float] = []
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            async with database.connection() as connection:
                values = [
                    float(value)
                    for value in (
                        await connection.execute(
                            select(runs.c.lateness_seconds).where(
                                runs.c.lateness_seconds.is_not(None)
                            )
                        )
                    ).scalars()
                ]
            if len(values) >= campaigns_due:
                break
        stop.set()
        await running
    finally:
        await database.dispose()
    return values


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure_lateness(plan: Plan, report: Report) -> None:
    count, recipients = plan.lateness_campaigns, plan.lateness_recipients
    step(f"scheduler lateness: {count} campaigns of {recipients:,} recipients due in one second")
    with database_url("sqlite", plan.directory, plan.postgres) as url:
        values = asyncio.run(_lateness(url, count, recipients))
    if len(values) < count:
        report.problems.append(f"lateness: only {len(values)} of {count} campaigns started")
    if not values:
        return
    note = f"{len(values)} campaigns, SQLite"
    for name, value in (
        ("p50", statistics.median(values)),
        ("p99", _percentile(values, 0.99)),
        ("max", max(values)),
    ):
        report.add(
            Figure(
                section="lateness",
                name=f"{name}",
                value=value,
                unit="s",
                target="p99 < 1 s" if name == "p99" else "",
                met=(value < 1.0) if name == "p99" else None,
                note=note,
            )
        )


def measure_wave_lateness(plan: Plan, report: Report) -> None:
    """Lateness per local-time wave (``benchmarks/wave_lateness.py``)."""
    from benchmarks import wave_lateness

    count = plan.lateness_campaigns
    step(f"wave lateness: {count} local-time campaigns, three zones each, on SQLite")
    values = asyncio.run(wave_lateness.measure(count))
    expected = count * len(wave_lateness.ZONES)
    if len(values) < expected:
        report.problems.append(f"waves: only {len(values)} of {expected} waves went out")
    if not values:
        return
    note = f"{len(values)} waves of {count} campaigns, SQLite"
    for name, value in (
        ("p50", statistics.median(values)),
        ("p99", _percentile(values, 0.99)),
        ("max", max(values)),
    ):
        report.add(
            Figure(
                section="waves",
                name=name,
                value=value,
                unit="s",
                target="p99 < 1 s" if name == "p99" else "",
                met=(value < 1.0) if name == "p99" else None,
                note=note,
            )
        )


# ---------------------------------------------------------------- memory of serve


def _quartiles(samples: list[tuple[float, float]]) -> str:
    """RSS at a quarter, half and three quarters of the run: flat means flat all along."""
    if len(samples) < 4:
        return "run too short for samples"
    values = [samples[len(samples) * part // 4][1] for part in (1, 2, 3)]
    return "at 1/4, 1/2, 3/4 of the run " + "/".join(f"{value:.0f}" for value in values) + " MB"


def measure_memory(plan: Plan, report: Report) -> None:
    with SmtpSink() as sink:
        for size in plan.memory_sizes:
            step(f"memory of `serve`: a {size:,}-recipient campaign on SQLite to the SMTP sink")
            folder = Path(tempfile.mkdtemp(prefix="memory-", dir=plan.directory))
            with database_url("sqlite", folder, None) as url:
                result = campaign_memory(
                    folder, url, size, transport=sink.url, connections=plan.connections
                )
            finished = result.status == "sent"
            if not finished:
                report.problems.append(
                    f"memory at {size:,}: the campaign ended {result.status} after "
                    f"{result.seconds:.0f} s with {result.sent:,} sent"
                )
            report.add(
                Figure(
                    section="memory",
                    name=f"peak RSS of serve, {size:,} recipients",
                    value=result.peak_mb,
                    unit="MB",
                    target="< 300 MB, flat",
                    met=result.peak_mb < 300 and finished,
                    note=(
                        f"idle {result.idle_mb:.0f} MB, {_quartiles(result.samples)}; "
                        f"{result.sent:,} sent in {result.seconds:.0f} s = "
                        f"{result.messages_per_second:,.0f}/s end to end"
                    ),
                )
            )


# ---------------------------------------------------------------- CSV import


def _write_csv(path: Path, rows: int, first: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name", "city", "since"])
        for number in range(first, first + rows):
            variables = variables_of(number)
            writer.writerow(
                [email_of(number), variables["first_name"], variables["city"], variables["since"]]
            )


async def _prepare_import(url: str) -> tuple[str, int, int]:
    """An organization, a platform admin token and two draft campaigns."""
    database = Database(url)
    try:
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
            _, token = await create_token(
                connection, role="platform_admin", organization_id=None, name="benchmark"
            )
            http_campaign = await create_campaign(connection, organization_id, name="HTTP import")
            cli_campaign = await create_campaign(connection, organization_id, name="CLI import")
    finally:
        await database.dispose()
    return token, http_campaign, cli_campaign


def _post_csv(base_url: str, token: str, campaign_id: int, path: Path, chunk_rows: int) -> int:
    """POST the file in bodies of ``chunk_rows`` rows (as a client under the body limit would)."""
    added = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    target = f"{base_url}/api/admin/marketing/campaigns/{campaign_id}/recipients"
    with path.open(encoding="utf-8") as file, httpx.Client(timeout=600) as client:
        header = file.readline()
        while True:
            lines = [line for _, line in zip(range(chunk_rows), file, strict=False)]
            if not lines:
                break
            response = client.post(
                target, content=(header + "".join(lines)).encode(), headers=headers
            )
            response.raise_for_status()
            added += int(response.json()["added"])
    return added


def measure_import(plan: Plan, report: Report) -> None:
    rows = plan.import_rows
    chunk_rows = 50_000
    step(f"import: {rows:,} CSV rows through HTTP (chunks of {chunk_rows:,}) and through the CLI")
    folder = Path(tempfile.mkdtemp(prefix="import-", dir=plan.directory))
    http_file, cli_file = folder / "http.csv", folder / "cli.csv"
    _write_csv(http_file, rows, 1)
    _write_csv(cli_file, rows, rows + 1)
    with database_url("sqlite", folder, None) as url:
        token, http_campaign, cli_campaign = asyncio.run(_prepare_import(url))
        with ServedInstance(folder, url, role="api") as instance:
            started = time.perf_counter()
            added = _post_csv(instance.base_url, token, http_campaign, http_file, chunk_rows)
            http_seconds = time.perf_counter() - started
        command = campaignd_command("campaign", "import", str(cli_campaign), str(cli_file))
        started = time.perf_counter()
        completed = subprocess.run(
            command,
            cwd=folder,
            env=subprocess_environment(url),
            capture_output=True,
            text=True,
            check=False,
        )
        cli_seconds = time.perf_counter() - started
    if added != rows:
        report.problems.append(f"import over HTTP added {added:,} of {rows:,} rows")
    report.add(
        Figure(
            section="import",
            name=f"HTTP text/csv, {rows:,} rows",
            value=rows / http_seconds,
            unit="rows/s",
            note=f"served instance, SQLite, {chunk_rows // 1000}k rows per request",
        )
    )
    if completed.returncode != 0:
        report.problems.append(f"CLI import failed: {completed.stderr.strip()[-500:]}")
        return
    report.add(
        Figure(
            section="import",
            name=f"CLI campaign import, {rows:,} rows",
            value=rows / cli_seconds,
            unit="rows/s",
            note="whole command, start-up included, SQLite",
        )
    )


# ---------------------------------------------------------------- contact import


def measure_contacts(plan: Plan, report: Report) -> None:
    kinds = ["sqlite"]
    if plan.postgres:
        kinds.append("postgresql")
    else:
        report.problems.append("contacts on PostgreSQL: no --postgres URL")
    for kind in kinds:
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        step(f"contact import on {label}: a CSV of {plan.contact_rows:,} contacts, four passes")
        passes = contacts_upsert.run(
            kind, plan.contact_rows, plan.postgres, baseline_rows=plan.baseline_sample
        )
        baseline = passes.pop()
        for item in passes:
            report.add(
                Figure(
                    section="contacts",
                    name=f"{label}, {item.name}",
                    value=item.rate,
                    unit="rows/s",
                    baseline=baseline.rate,
                    baseline_note=f"{baseline.rows // 1000}k one statement per row",
                    note=(
                        f"{item.rows:,} rows in {item.seconds:.1f} s: created {item.created:,}, "
                        f"updated {item.updated:,}, unchanged {item.unchanged:,}"
                    ),
                )
            )


# ---------------------------------------------------------------- suppression lists as CSV


def measure_suppressions(plan: Plan, report: Report) -> None:
    sizes = ", ".join(f"{size:,}" for size in plan.suppression_sizes)
    step(f"suppression list CSV: import and export of {sizes} rows, HTTP and CLI")
    folder = Path(tempfile.mkdtemp(prefix="suppressions-", dir=plan.directory))
    suppressions_csv.measure_into(report, plan.suppression_sizes, plan.postgres, folder)


# ---------------------------------------------------------------- the command


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def _names(text: str) -> set[str]:
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = names - {*SECTIONS, "postgres"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
    return names


def parse_plan(arguments: list[str]) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Every figure of campaignd beside a baseline measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--sizes", type=_sizes, help="fan-out audiences, e.g. 100000,1000000")
    parser.add_argument("--memory-sizes", type=_sizes, help="serve memory runs, e.g. 100000")
    parser.add_argument("--messages", type=int, help="messages per delivery figure")
    parser.add_argument("--import-rows", type=int, help="CSV rows per import figure")
    parser.add_argument("--segment-contacts", type=int, help="contacts a segment is counted over")
    parser.add_argument("--contact-rows", type=int, help="contacts per contact import figure")
    parser.add_argument(
        "--suppression-rows", type=_sizes, help="suppression list sizes, e.g. 100000,1000000"
    )
    parser.add_argument("--connections", type=int, default=8, help="SMTP_CONNECTIONS")
    parser.add_argument(
        "--skip", type=_names, default=set(), help=f"any of {', '.join(SECTIONS)}, postgres"
    )
    parser.add_argument("--only", type=_names, default=None, help="run only these sections")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (a server to use)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write a table here")
    options = parser.parse_args(arguments)
    quick = options.quick
    sections = tuple(
        name
        for name in SECTIONS
        if (options.only is None or name in options.only) and name not in options.skip
    )
    postgres = None if "postgres" in options.skip else postgres_base_url(options.postgres)
    plan = Plan(
        sizes=options.sizes or ((20_000,) if quick else (100_000, 1_000_000)),
        baseline_sample=2_000 if quick else 20_000,
        messages=options.messages or (2_000 if quick else 20_000),
        baseline_messages=200 if quick else 1_000,
        connections=options.connections,
        lateness_campaigns=100,
        lateness_recipients=20 if quick else 1_000,
        memory_sizes=options.memory_sizes or ((5_000,) if quick else (100_000, 1_000_000)),
        import_rows=options.import_rows or (20_000 if quick else 200_000),
        segment_contacts=options.segment_contacts or (50_000 if quick else 1_000_000),
        contact_rows=options.contact_rows or (20_000 if quick else 1_000_000),
        suppression_sizes=options.suppression_rows
        or ((10_000, 50_000) if quick else (100_000, 1_000_000)),
        sections=sections,
        postgres=postgres,
        directory=Path(tempfile.mkdtemp(prefix="campaignd-bench-")),
    )
    return plan, options


MEASURES: dict[str, Callable[[Plan, Report], None]] = {
    "fanout": measure_fan_out,
    "delivery": measure_delivery,
    "dkim": measure_signing,
    "content": lambda plan, report: measure_content(report, quick=plan.messages < 10_000),
    "lateness": measure_lateness,
    "waves": measure_wave_lateness,
    "memory": measure_memory,
    "import": measure_import,
    "segments": lambda plan, report: measure_segment_count(
        plan.segment_contacts, plan.postgres, plan.directory, report
    ),
    "contacts": measure_contacts,
    "suppressions": measure_suppressions,
    "webhooks": lambda plan, report: measure_webhooks(
        report,
        step,
        events=plan.messages,
        messages=plan.messages,
        connections=plan.connections,
        directory=plan.directory,
        quick=plan.messages < 10_000,
    ),
}


def main(arguments: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if arguments is None else arguments
    plan, options = parse_plan(arguments)
    report = Report(command=shlex.join(["python", "-m", "benchmarks", *arguments]))
    report.machine = machine_description()
    try:
        for section in plan.sections:
            try:
                MEASURES[section](plan, report)
            except Exception as error:  # one broken section must not hide the others
                report.problems.append(f"{section}: {type(error).__name__}: {error}")
                console.print_exception(max_frames=5)
    finally:
        shutil.rmtree(plan.directory, ignore_errors=True)
    report.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    render(report, console)
    if options.json:
        report.save(options.json)
    if options.markdown:
        options.markdown.write_text(markdown(report), encoding="utf-8")
    return 0 if all(figure.met is not False for figure in report.figures) else 1


if __name__ == "__main__":
    sys.exit(main())
