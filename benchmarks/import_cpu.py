"""Where an import's CPU goes: the reading process, the storing process and PostgreSQL.

``campaignd campaign import`` of the ``write_csv`` file of ``benchmarks.ten_million``
into a draft campaign on a new PostgreSQL database, ``--rounds`` times. While it runs,
every process's CPU time is read from ``/proc`` every 50 ms: the command itself (it stores
the chunks), its child (the reading process) and PostgreSQL's processes (the backend that
takes the rows, and the checkpointer and WAL writer behind it). Printed per row, with the
cores they kept busy together and the most rows a second two fully busy cores would give
at that CPU a row. Nothing else should run meanwhile: every ``postgres`` process counts.

    python -m benchmarks.import_cpu                      # 2,000,000 rows, 2 rounds
    python -m benchmarks.import_cpu --rows 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.ceiling import cpu_of, stat_fields
from benchmarks.common import add_postgres_option, postgres_database, required_postgres
from benchmarks.memory import campaignd_command, campaignd_environment
from benchmarks.ten_million import draft_campaign, write_csv

CORES = os.cpu_count() or 1
console = Console()


@dataclass(frozen=True)
class Process:
    parent: int
    name: str
    cpu: float  # seconds of user + system time so far


def processes() -> dict[int, Process]:
    """Every process this user can read, from ``/proc``."""
    found: dict[int, Process] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name = Path(f"/proc/{entry}/comm").read_text().strip()
            fields = stat_fields(int(entry))
        except OSError:
            continue  # gone meanwhile
        found[int(entry)] = Process(int(fields[1]), name, cpu_of(fields))
    return found


@dataclass(frozen=True)
class Shares:
    rows: int
    seconds: float
    command: float  # CPU seconds
    reader: float
    postgres: float

    def per_row(self, cpu: float) -> float:
        return cpu / self.rows * 1e6

    @property
    def total(self) -> float:
        return self.command + self.reader + self.postgres


def measured_import(url: str, campaign_id: int, path: Path, rows: int) -> Shares:
    """One import, with each process's CPU over it (the last reading of a process that
    ended meanwhile counts)."""
    before = processes()
    last: dict[int, Process] = {}
    started = time.perf_counter()
    command = subprocess.Popen(
        campaignd_command("campaign", "import", str(campaign_id), str(path)),
        env=campaignd_environment(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while command.poll() is None:
        last.update(processes())
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if command.returncode != 0:
        assert command.stderr is not None
        raise RuntimeError(f"the import failed: {command.stderr.read().decode()[-2000:]}")

    def spent(pid: int) -> float:
        earlier = before.get(pid)
        return last[pid].cpu - (earlier.cpu if earlier else 0.0)

    return Shares(
        rows=rows,
        seconds=seconds,
        command=spent(command.pid) if command.pid in last else 0.0,
        reader=sum(spent(pid) for pid, seen in last.items() if seen.parent == command.pid),
        postgres=sum(spent(pid) for pid, seen in last.items() if seen.name == "postgres"),
    )


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipients.csv"
        write_csv(path, options.rows)
        for round_number in range(1, options.rounds + 1):
            with postgres_database(base) as url:
                campaign_id, _ = asyncio.run(draft_campaign(url))
                shares = measured_import(url, campaign_id, path, options.rows)
            per_row = shares.per_row(shares.total)
            console.print(
                f"round {round_number}: {options.rows:,} rows in {shares.seconds:.1f} s = "
                f"{options.rows / shares.seconds:,.0f} rows/s; CPU a row: storing "
                f"{shares.per_row(shares.command):.1f} µs (start-up included), reading "
                f"{shares.per_row(shares.reader):.1f} µs, PostgreSQL "
                f"{shares.per_row(shares.postgres):.1f} µs, together {per_row:.1f} µs; "
                f"{shares.total / shares.seconds:.2f} of {CORES} cores busy, at most "
                f"{CORES / per_row * 1e6:,.0f} rows/s with all of them; load average "
                f"{os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
