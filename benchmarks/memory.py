"""A real ``python -m campaignd serve`` process, and its memory through a whole campaign.

The resident set is read from ``/proc/PID/status``: ``VmRSS`` (now) and ``VmHWM`` (the
peak since the process started, kept by the kernel, so no sample can miss it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import update

from benchmarks.common import free_port, seed_audience
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns

FINAL = {"sent", "failed", "cancelled", "paused"}
START_DELAY = 8.0
"""Seconds between starting ``serve`` and the campaign being due: the idle size is read then."""


def memory_of(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of ``pid`` in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount, _unit = line.split()
            values[name.rstrip(":")] = int(amount) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def campaignd_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a campaignd subprocess: this interpreter's, plus ``CAMPAIGND_*``."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")
    }
    environment["CAMPAIGND_DATABASE_URL"] = database_url
    environment.setdefault("CAMPAIGND_LOG_LEVEL", "WARNING")
    for name, value in settings.items():
        environment[f"CAMPAIGND_{name.upper()}"] = value
    return environment


def campaignd_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "campaignd", *arguments]


class ServedInstance:
    """``python -m campaignd serve`` on a free port, stopped with SIGTERM (a graceful drain)."""

    def __init__(
        self, directory: Path, database_url: str, *, role: str = "all", **settings: str
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.environment = campaignd_environment(database_url, **settings)
        self.role = role
        self.log_path = directory / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServedInstance:
        arguments = ("serve", "--port", str(self.port), "--role", self.role)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                campaignd_command(*arguments),
                cwd=self.directory,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited early; see {self.log_path}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not answer /healthz within {timeout} s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> ServedInstance:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class MemoryResult:
    recipients: int
    idle_mb: float
    peak_mb: float
    seconds: float
    status: str
    sent: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since due, RSS MB), one per second."""

    @property
    def messages_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def _campaign_state(path: Path, campaign_id: int) -> tuple[str, int]:
    """(status, sent) read straight from the SQLite file, without taking any write lock."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute(
            "SELECT c.status, COALESCE(r.sent, 0) FROM campaigns c "
            "LEFT JOIN runs r ON r.campaign_id = c.id WHERE c.id = ? ORDER BY r.id DESC LIMIT 1",
            (campaign_id,),
        ).fetchone()
    return (str(row[0]), int(row[1])) if row else ("?", 0)


async def _schedule_audience(database_url: str, recipients: int) -> int:
    """Seed the campaign as a draft, then schedule it ``START_DELAY`` seconds from now."""
    database = Database(database_url)
    try:
        audience = await seed_audience(database, recipients)
        async with database.transaction() as connection:
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == audience.campaign_id)
                .values(
                    status=CampaignStatus.SCHEDULED.value,
                    scheduled_for=utcnow() + timedelta(seconds=START_DELAY),
                )
            )
        return audience.campaign_id
    finally:
        await database.dispose()


def campaign_memory(
    directory: Path,
    database_url: str,
    recipients: int,
    *,
    transport: str,
    timeout: float = 3600.0,
    connections: int | None = None,
) -> MemoryResult:
    """Run one campaign of ``recipients`` through a ``serve`` process; its memory and pace.

    The database must be a SQLite file (the embedded default); ``transport`` is the
    ``EMAIL_TRANSPORT`` of the process.
    """
    path = Path(database_url.removeprefix("sqlite:///"))
    campaign_id = asyncio.run(_schedule_audience(database_url, recipients))
    settings = {"email_transport": transport}
    if connections is not None:
        settings["smtp_connections"] = str(connections)
    with ServedInstance(directory, database_url, **settings) as instance:
        time.sleep(max(0.0, START_DELAY - 3.0))
        idle, _ = memory_of(instance.pid)
        status, sent = "scheduled", 0
        while status == "scheduled":
            time.sleep(0.05)
            status, sent = _campaign_state(path, campaign_id)
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        while status not in FINAL and time.monotonic() - started < timeout:
            time.sleep(1.0)
            current, _ = memory_of(instance.pid)
            samples.append((round(time.monotonic() - started, 1), round(current, 1)))
            status, sent = _campaign_state(path, campaign_id)
        seconds = time.monotonic() - started
        _, peak = memory_of(instance.pid)
    return MemoryResult(recipients, idle, peak, seconds, status, sent, samples)
