"""Redis and PostgreSQL restarted under a campaign sending through ``python -m campaignd serve``.

These stop real services for everyone on this machine: they run in CI (where nothing else
runs at the same time) and are otherwise deselected with ``-m "not chaos"``. They always
leave both services running.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from campaignd.cli import app
from campaignd.store.database import sync_url
from campaignd.store.schema import campaigns, deliveries, runs
from tests.support import missing

pytestmark = pytest.mark.chaos

RECIPIENTS = 1200
SMTP_CONNECTIONS = 4
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


# --- a real SMTP server that records every RCPT it accepts --------------------------------


class Recorder:
    """Accepts everything after a short pause (so a campaign takes seconds), records it."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []  # (recipient, Message-ID)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message_id = ""
        for line in content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
        with self.lock:
            self.received.extend((address, message_id) for address in envelope.rcpt_tos)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def per_address(self) -> Counter[str]:
        with self.lock:
            return Counter(address for address, _ in self.received)

    def message_ids(self) -> dict[str, set[str]]:
        with self.lock:
            result: dict[str, set[str]] = {}
            for address, message_id in self.received:
                result.setdefault(address, set()).add(message_id)
            return result


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder(delay=0.01)
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()


# --- services ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_answers() -> bool:
    result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True)
    return result.returncode == 0 and b"PONG" in result.stdout


def postgres_answers() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_redis() -> None:
    if not redis_answers():
        subprocess.run(REDIS_START, check=True, capture_output=True)
    wait_for(redis_answers, "Redis to answer")


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wait_for(postgres_answers, "PostgreSQL to answer")


@pytest.fixture
def local_services(postgres_url: str, redis_url: str) -> Iterator[None]:
    """Only where this test may stop and start them (local, root, tools installed)."""
    tools = ["redis-cli", "redis-server", "pg_ctlcluster", "pg_isready"]
    if os.geteuid() != 0 or any(shutil.which(tool) is None for tool in tools):
        missing("needs root and redis-server, redis-cli, pg_ctlcluster, pg_isready")
    if make_url(postgres_url).host not in ("127.0.0.1", "localhost") or "127.0.0.1" not in (
        redis_url
    ):
        missing("PostgreSQL and Redis must run on this machine to be restarted")
    try:
        yield
    finally:
        start_redis()
        if not postgres_answers():
            restart_postgres()


# --- the instance and the campaign ---------------------------------------------------------


def isolated_redis(redis_url: str) -> str:
    """A Redis database of its own: other tests' scheduler locks live in database 0."""
    return make_url(redis_url).set(database="11").render_as_string(hide_password=False)


def environment(database_url: str, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}
    env.update(
        CAMPAIGND_DATABASE_URL=database_url,
        CAMPAIGND_REDIS_URL=isolated_redis(redis_url),
        CAMPAIGND_EMAIL_TRANSPORT=f"smtp://127.0.0.1:{smtp_port}",
        CAMPAIGND_SMTP_CONNECTIONS=str(SMTP_CONNECTIONS),
        CAMPAIGND_SCHEDULER_INTERVAL="0.2",
        CAMPAIGND_LOCK_TTL="3",
        CAMPAIGND_LEASE_SECONDS="5",
        CAMPAIGND_MAX_ATTEMPTS="50",
        CAMPAIGND_RETRY_BACKOFF="0.2",
        CAMPAIGND_MAX_SEND_ERRORS="100000",
        CAMPAIGND_BATCH_SIZE="50",
        **extra,
    )
    return env


def cli(env: dict[str, str], *arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def create_campaign(env: dict[str, str], folder: Path, name: str, due_in: float) -> int:
    addresses = [f"{name}.{index}@example.com" for index in range(RECIPIENTS)]
    definition = {
        "name": name,
        "subject": "Hello {{ email }}",
        "textBody": "Hi!",
        "organization": "acme",
        "recipients": addresses,
        "scheduledFor": (datetime.now(UTC) + timedelta(seconds=due_in)).isoformat(),
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return int(cli(env, "campaign", "create", "--from", str(path)).splitlines()[0])


class Instance:
    """``python -m campaignd serve`` in a subprocess, its output in a file."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "serve.log"
        self._output = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "campaignd", "serve", "--port", str(self.port)],
            env=env,
            cwd=folder,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.get("/healthz")[0] == 200, "the instance to answer")

    def get(self, path: str) -> tuple[int, str]:
        assert self.process.poll() is None, self.log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def lock_owned(self) -> bool:
        _, text = self.get("/metrics")
        return "campaignd_scheduler_lock_owned 1.0" in text

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._output.close()
        return int(self.process.returncode)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    handle = create_engine(sync_url(postgres_url), pool_pre_ping=True)
    yield handle
    handle.dispose()


def query(engine: Engine, statement: Any) -> Any:
    """A scalar, retried while the database restarts."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with engine.connect() as connection:
                return connection.execute(statement).scalar()
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def status(engine: Engine, campaign_id: int) -> str:
    return str(query(engine, select(campaigns.c.status).where(campaigns.c.id == campaign_id)))


def run_count(engine: Engine, campaign_id: int) -> int:
    statement = select(func.count()).select_from(runs).where(runs.c.campaign_id == campaign_id)
    return int(query(engine, statement))


def sent_count(engine: Engine, campaign_id: int) -> int:
    statement = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "sent")
    )
    return int(query(engine, statement))


# --- the tests -----------------------------------------------------------------------------


def test_redis_stopped_and_restarted_while_sending(
    local_services: None,
    postgres_url: str,
    redis_url: str,
    smtp: tuple[Recorder, int],
    engine: Engine,
    tmp_path: Path,
) -> None:
    recorder, smtp_port = smtp
    # a global send rate lives in Redis: without Redis, sending waits instead of racing on
    env = environment(postgres_url, redis_url, smtp_port, CAMPAIGND_SEND_RATE="150")
    cli(env, "org", "create", "acme")
    first = create_campaign(env, tmp_path, "first", due_in=2)
    instance = Instance(env, tmp_path)
    try:
        wait_for(instance.lock_owned, "the instance to hold the scheduler lock")
        wait_for(lambda: recorder.count() >= 200, "sending to be under way")

        subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
        wait_for(lambda: not redis_answers(), "Redis to stop")
        second = create_campaign(env, tmp_path, "second", due_in=1)
        wait_for(lambda: not instance.lock_owned(), "the lock to be given up", timeout=15)
        ready_status, ready = instance.get("/readyz")
        assert ready_status == 503 and "redis" in ready
        time.sleep(3)  # the second campaign is due now, but nobody may lead without Redis
        assert status(engine, second) == "scheduled"
        assert status(engine, first) == "sending"

        start_redis()
        wait_for(instance.lock_owned, "the lock to be regained", timeout=30)
        for campaign_id in (first, second):
            wait_for(lambda c=campaign_id: status(engine, c) == "sent", "both campaigns sent", 120)
    finally:
        start_redis()
        exit_code = instance.stop()

    assert exit_code == 0, instance.log.read_text()
    for campaign_id in (first, second):
        assert run_count(engine, campaign_id) == 1
        assert sent_count(engine, campaign_id) == RECIPIENTS
    received = recorder.per_address()
    assert len(received) == 2 * RECIPIENTS
    assert set(received.values()) == {1}, "an address got the campaign twice"


def test_postgres_restarted_while_sending(
    local_services: None,
    postgres_url: str,
    redis_url: str,
    smtp: tuple[Recorder, int],
    engine: Engine,
    tmp_path: Path,
) -> None:
    recorder, smtp_port = smtp
    env = environment(postgres_url, redis_url, smtp_port)
    cli(env, "org", "create", "acme")
    campaign_id = create_campaign(env, tmp_path, "steady", due_in=2)
    instance = Instance(env, tmp_path)
    try:
        wait_for(lambda: recorder.count() >= 200, "sending to be under way")
        restart_postgres()
        wait_for(lambda: status(engine, campaign_id) == "sent", "the campaign to be sent", 180)
        assert instance.process.poll() is None, "the instance must survive a database restart"
        ready_status, _ = instance.get("/readyz")
        assert ready_status == 200
    finally:
        exit_code = instance.stop()

    assert exit_code == 0, instance.log.read_text()
    assert run_count(engine, campaign_id) == 1
    assert sent_count(engine, campaign_id) == RECIPIENTS
    received = recorder.per_address()
    assert len(received) == RECIPIENTS, "every address is delivered: nothing lost"
    # A message the SMTP server accepted while its outcome could not be committed is sent
    # again after its lease expires; at most one per connection, with the same Message-ID.
    twice = [address for address, times in received.items() if times > 1]
    assert len(twice) <= SMTP_CONNECTIONS, twice
    message_ids = recorder.message_ids()
    assert all(len(message_ids[address]) == 1 for address in twice)
