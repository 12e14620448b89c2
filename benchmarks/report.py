"""The figures of a benchmark run and the table that shows them beside their baselines."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    """One measured figure, with the baseline measured in the same run when there is one."""

    section: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_note: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline <= 0:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    command: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def save(self, path: Path) -> None:
        data = asdict(self)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def machine_description() -> dict[str, Any]:
    """Cores, memory, CPU model, load, versions: what the figures depend on."""
    description: dict[str, Any] = {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
    try:
        import os

        description["cores"] = os.cpu_count()
        description["load_average"] = [round(value, 2) for value in os.getloadavg()]
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                description["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                description["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        description["sqlite"] = __import__("sqlite3").sqlite_version
        version = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5, check=False
        )
        if version.returncode == 0:
            description["postgresql_client"] = version.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return description


def _number(value: float, unit: str) -> str:
    if unit in {"s", "ms"}:
        return f"{value:,.3f} {unit}" if value < 10 else f"{value:,.1f} {unit}"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}"


def render(report: Report, console: Console | None = None) -> None:
    """Print the table: figure, campaignd, baseline, ratio, target and whether it is met."""
    console = console or Console()
    table = Table(title=f"campaignd benchmarks ({report.started_at})", show_lines=False)
    table.add_column("section", style="bold")
    table.add_column("figure")
    table.add_column("campaignd", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("met", justify="center")
    previous = ""
    for figure in report.figures:
        section = figure.section if figure.section != previous else ""
        previous = figure.section
        baseline = "-"
        if figure.baseline is not None:
            baseline = _number(figure.baseline, figure.unit)
            if figure.baseline_note:
                baseline += f" ({figure.baseline_note})"
        ratio = f"{figure.ratio:,.1f}x" if figure.ratio is not None else "-"
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[figure.met]
        name = figure.name + (f" [dim]({figure.note})[/dim]" if figure.note else "")
        table.add_row(
            section, name, _number(figure.value, figure.unit), baseline, ratio, figure.target, met
        )
    console.print(table)
    machine = report.machine
    console.print(
        f"machine: {machine.get('cores')} cores, {machine.get('cpu', '?')}, "
        f"{machine.get('memory_gb', '?')} GB, load {machine.get('load_average')}; "
        f"Python {machine.get('python')}, SQLite {machine.get('sqlite')}",
        highlight=False,
    )
    console.print(f"command: {report.command}", highlight=False)
    for problem in report.problems:
        console.print(f"[yellow]not measured:[/yellow] {problem}", highlight=False)


def markdown(report: Report) -> str:
    """The same table as Markdown (for docs/performance.md)."""
    lines = [
        "| section | figure | campaignd | baseline | ratio | target | met |",
        "|---|---|---:|---:|---:|---|:-:|",
    ]
    for figure in report.figures:
        baseline = "-"
        if figure.baseline is not None:
            baseline = _number(figure.baseline, figure.unit)
            if figure.baseline_note:
                baseline += f" ({figure.baseline_note})"
        ratio = f"{figure.ratio:,.1f}x" if figure.ratio is not None else "-"
        met = {True: "yes", False: "no", None: "-"}[figure.met]
        name = figure.name + (f" ({figure.note})" if figure.note else "")
        value = _number(figure.value, figure.unit)
        lines.append(
            f"| {figure.section} | {name} | {value} | {baseline} | {ratio} | {figure.target} "
            f"| {met} |"
        )
    return "\n".join(lines) + "\n"
