"""A suppression list as CSV at a million rows: rows per second and peak memory of the import
and the export, through the HTTP routes and through the CLI.

    python benchmarks/suppressions_csv.py [--rows 100000,1000000] [--database-url URL]
    python -m benchmarks --only suppressions

Every operation runs in a fresh process, so its memory is its own: ``campaignd serve --role
api`` for ``POST .../suppressions/import`` and ``GET .../suppressions/export`` (its resident
set read from ``/proc``: before the request, sampled while it works, and the kernel's peak
``VmHWM``), and ``campaignd suppress import|export`` (the peak from ``wait4``). "Streamed"
shows as a peak that stays where it is when the list grows tenfold.

SQLite always (a new file each time); PostgreSQL with ``--database-url`` or
``CAMPAIGND_TEST_DATABASE_URL`` (a new database next to it, dropped afterwards). The served
instance gets ``CAMPAIGND_MAX_BODY_BYTES`` of 256 MiB: a million rows are a body of about
33 MB, above the default limit of 32 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from rich.console import Console

from benchmarks.common import database_url, postgres_base_url
from benchmarks.memory import (
    ServedInstance,
    campaignd_command,
    campaignd_environment,
    memory_of,
)
from benchmarks.report import Figure, Report, machine_description, render
from campaignd.store import organizations, tokens
from campaignd.store.database import Database

PREFIX = "/api/admin/marketing"
BODY_LIMIT = str(256 * 1024 * 1024)
INVALID_EVERY = 10_000
"""One row in this many has an address that cannot be mailed (skipped and reported)."""
FLAT_MB = 64.0
"""How much more the peak may be at the largest size than at the smallest to count as flat."""


@dataclass
class Measure:
    operation: str
    database: str
    rows: int
    seconds: float
    peak_mb: float
    start_mb: float
    samples: list[float] = field(default_factory=list)
    """Resident set while it worked, MB (the served instance only)."""
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        shape = ""
        if len(self.samples) >= 4:
            quarters = [self.samples[len(self.samples) * part // 4] for part in (1, 2, 3)]
            shape = ", at 1/4 1/2 3/4 " + "/".join(f"{value:.0f}" for value in quarters) + " MB"
        return (
            f"{self.operation:<12} {self.database:<10} {self.rows:>9,} rows "
            f"{self.seconds:7.1f} s {self.rate:>9,.0f} rows/s   "
            f"peak {self.peak_mb:5.0f} MB (start {self.start_mb:.0f} MB{shape}){self.note}"
        )


def write_file(path: Path, rows: int) -> int:
    """``email,reason`` with ``rows`` rows (a fifth bounced, the rest without a reason, one
    in ``INVALID_EVERY`` invalid); returns how many rows are valid."""
    invalid = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("email,reason\n")
        for number in range(rows):
            if number % INVALID_EVERY == INVALID_EVERY - 1:
                file.write(f"not-an-address-{number},\n")
                invalid += 1
            else:
                reason = "bounced" if number % 5 == 0 else ""
                file.write(f"person{number:07}@example.org,{reason}\n")
    return rows - invalid


async def _prepare(url: str) -> str:
    """Organizations ``bench`` (HTTP) and ``copy`` (CLI) and a platform admin's token."""
    database = Database(url)
    try:
        async with database.transaction() as connection:
            for slug in ("bench", "copy"):
                await organizations.create_organization(connection, slug=slug, name=slug)
            _, token = await tokens.create_token(
                connection, role="platform_admin", organization_id=None, name="benchmark"
            )
    finally:
        await database.dispose()
    return token


class Sampler:
    """The resident set of ``pid``, read every ``every`` seconds in a thread."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.values: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.values.append(memory_of(self.pid)[0])

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def served(folder: Path, url: str) -> Iterator[ServedInstance]:
    with ServedInstance(folder, url, role="api", max_body_bytes=BODY_LIMIT) as instance:
        yield instance


def http_import(folder: Path, url: str, token: str, path: Path, kind: str, rows: int) -> Measure:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    with served(folder, url) as instance:
        start = memory_of(instance.pid)[0]
        target = f"{instance.base_url}{PREFIX}/suppressions/import?organization=bench"
        with Sampler(instance.pid) as sampler, path.open("rb") as body:
            started = time.perf_counter()
            response = httpx.post(target, content=body, headers=headers, timeout=3600)
            seconds = time.perf_counter() - started
        peak = memory_of(instance.pid)[1]
    response.raise_for_status()
    report = response.json()
    note = f"; added {report['added']:,}, skipped {report['invalidCount']:,}"
    return Measure("HTTP import", kind, rows, seconds, peak, start, sampler.values, note)


def http_export(folder: Path, url: str, token: str, kind: str) -> Measure:
    headers = {"Authorization": f"Bearer {token}"}
    with served(folder, url) as instance:
        start = memory_of(instance.pid)[0]
        target = f"{instance.base_url}{PREFIX}/suppressions/export?organization=bench"
        lines = size = 0
        with Sampler(instance.pid) as sampler:
            started = time.perf_counter()
            with httpx.stream("GET", target, headers=headers, timeout=3600) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
                    size += len(chunk)
            seconds = time.perf_counter() - started
        peak = memory_of(instance.pid)[1]
    note = f"; {size / 1e6:.0f} MB of CSV"
    return Measure("HTTP export", kind, lines - 1, seconds, peak, start, sampler.values, note)


def run_command(folder: Path, url: str, *arguments: str) -> tuple[float, float, str]:
    """(seconds, peak resident set in MB, stdout) of one ``campaignd`` command, reaped with
    ``wait4`` so the peak is this command's own."""
    with tempfile.TemporaryFile(dir=folder) as stdout, tempfile.TemporaryFile(dir=folder) as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            campaignd_command(*arguments),
            env=campaignd_environment(url),
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"campaignd {' '.join(arguments)}: {errors[-500:]}")
    return seconds, usage.ru_maxrss / 1024, output


def cli_commands(url: str, folder: Path, path: Path, kind: str, rows: int) -> list[Measure]:
    """The CLI: export ``bench`` to a file, import the file of ``rows`` rows into ``copy``."""
    _, start, _ = run_command(folder, url, "suppress", "list", "--org", "bench", "--limit", "1")
    exported = folder / "exported.csv"
    seconds, peak, _ = run_command(
        folder, url, "suppress", "export", "--org", "bench", "--output", str(exported)
    )
    count = sum(1 for _ in exported.open(encoding="utf-8")) - 1
    export = Measure("CLI export", kind, count, seconds, peak, start)
    seconds, peak, output = run_command(
        folder, url, "suppress", "import", str(path), "--org", "copy"
    )
    summary = output.splitlines()[0].split(": ", 1)[-1] if output else ""
    imported = Measure("CLI import", kind, rows, seconds, peak, start, note=f"; {summary}")
    return [export, imported]


def measure_database(kind: str, rows: int, folder: Path, postgres: str | None) -> list[Measure]:
    path = folder / f"suppressions-{rows}.csv"
    if not path.exists():
        write_file(path, rows)
    with database_url(kind, folder, postgres) as url:
        token = asyncio.run(_prepare(url))
        results = [http_import(folder, url, token, path, kind, rows)]
        results.append(http_export(folder, url, token, kind))
        results += cli_commands(url, folder, path, kind, rows)
    return results


def measure_all(
    sizes: tuple[int, ...],
    postgres: str | None,
    folder: Path,
    show: Callable[[Measure], None] = lambda _: None,
) -> list[Measure]:
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    results: list[Measure] = []
    for kind in kinds:
        for rows in sizes:
            for measure in measure_database(kind, rows, folder, postgres):
                show(measure)
                results.append(measure)
    return results


def figures(results: list[Measure]) -> list[Figure]:
    """Rows per second of each, and whether each operation's peak stayed flat as it grew."""
    found: list[Figure] = []
    for measure in results:
        found.append(
            Figure(
                section="suppressions",
                name=f"{measure.operation}, {measure.database}, {measure.rows:,} rows",
                value=measure.rate,
                unit="rows/s",
                note=f"peak RSS {measure.peak_mb:.0f} MB, start {measure.start_mb:.0f} MB",
            )
        )
    groups: dict[tuple[str, str], list[Measure]] = {}
    for measure in results:
        groups.setdefault((measure.operation, measure.database), []).append(measure)
    for (operation, kind), measures in groups.items():
        if len(measures) < 2:
            continue
        small = min(measures, key=lambda item: item.rows)
        large = max(measures, key=lambda item: item.rows)
        growth = large.peak_mb - small.peak_mb
        found.append(
            Figure(
                section="suppressions",
                name=f"{operation}, {kind}: peak RSS growth {small.rows:,} -> {large.rows:,}",
                value=growth,
                unit="MB",
                target=f"< {FLAT_MB:.0f} MB (flat)",
                met=growth < FLAT_MB,
                note=f"{small.peak_mb:.0f} -> {large.peak_mb:.0f} MB",
            )
        )
    return found


def measure_into(
    report: Report, sizes: tuple[int, ...], postgres: str | None, folder: Path
) -> None:
    """For ``python -m benchmarks``: the figures, into its report."""
    if not postgres:
        report.problems.append("suppressions CSV on PostgreSQL: no --postgres URL")
    for figure in figures(measure_all(sizes, postgres, folder)):
        report.add(figure)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=_sizes, default=(100_000, 1_000_000))
    parser.add_argument("--database-url", default=None, help="PostgreSQL server to use")
    options = parser.parse_args(arguments)
    postgres = postgres_base_url(options.database_url)
    report = Report(command=" ".join(["benchmarks/suppressions_csv.py", *sys.argv[1:]]))
    report.machine = machine_description()
    with tempfile.TemporaryDirectory(prefix="campaignd-suppressions-") as folder:
        results = measure_all(
            options.rows, postgres, Path(folder), show=lambda measure: print(measure.line())
        )
    for figure in figures(results):
        report.add(figure)
    if not postgres:
        print("PostgreSQL: not measured (no --database-url or CAMPAIGND_TEST_DATABASE_URL)")
    render(report, Console() if Console().is_terminal else Console(width=200, no_color=True))
    return 0 if all(figure.met is not False for figure in report.figures) else 1


if __name__ == "__main__":
    sys.exit(main())
