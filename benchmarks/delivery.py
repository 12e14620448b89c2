"""Messages per second from one worker process to a local SMTP server.

    python benchmarks/delivery.py                      # the default set of figures
    python benchmarks/delivery.py --database sqlite --recipients 20000 --connections 8
    python benchmarks/delivery.py --delay 0.02 --connections 1 8 32

Each case builds a campaign with personalised HTML and text bodies, starts and fans it
out (not timed), then times ``Worker.run_burst`` until every delivery is recorded. The
SMTP server is aiosmtpd in a process of its own (``tests/integration/smtp_server.py``)
that accepts everything, optionally after a delay. PostgreSQL cases need
``CAMPAIGND_TEST_DATABASE_URL`` (a database on a server where we may create databases).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaignd.delivery.transports import create_transport  # noqa: E402
from campaignd.delivery.worker import Worker  # noqa: E402
from campaignd.domain.lifecycle import Trigger  # noqa: E402
from campaignd.runtime import run_event_loop  # noqa: E402
from campaignd.settings import Settings  # noqa: E402
from campaignd.store.campaigns import create_campaign  # noqa: E402
from campaignd.store.columns import utcnow  # noqa: E402
from campaignd.store.database import Database  # noqa: E402
from campaignd.store.fanout import CooldownRules, fan_out  # noqa: E402
from campaignd.store.migrate import upgrade  # noqa: E402
from campaignd.store.organizations import create_organization  # noqa: E402
from campaignd.store.recipients import add_recipients  # noqa: E402
from campaignd.store.runs import start_campaign  # noqa: E402
from campaignd.store.schema import deliveries  # noqa: E402
from campaignd.wakeups import LocalWakeups  # noqa: E402

HTML = (
    "<html><body><h1>Hello {{ first_name }}!</h1>"
    "<p>Your plan <strong>{{ plan }}</strong> renews on {{ renews }}.</p>"
    + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam.</p>"
    * 12
    + '<p><a href="https://acme.example/account?u={{ id }}">Your account</a></p>'
    "</body></html>"
)
TEXT = (
    "Hello {{ first_name }}!\n\nYour plan {{ plan }} renews on {{ renews }}.\n\n"
    + "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n" * 12
    + "Your account: https://acme.example/account?u={{ id }}\n"
)


@contextmanager
def smtp_sink(delay: float) -> Iterator[str]:
    """An aiosmtpd server in its own process; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.smtp_server", "--delay", str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"smtp://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def database_url(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    base = os.environ.get("CAMPAIGND_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("set CAMPAIGND_TEST_DATABASE_URL for the PostgreSQL figures")
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"campaignd_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def prepare(database: Database, settings: Settings, recipients: int) -> None:
    async with database.transaction() as connection:
        organization = await create_organization(connection, slug="bench", name="Bench")
        campaign_id = await create_campaign(
            connection,
            organization_id=int(organization["id"]),
            actor="bench",
            name="Benchmark",
            subject="{{ first_name }}, your {{ plan }} plan renews soon",
            html_body=HTML,
            text_body=TEXT,
        )
        await add_recipients(
            connection,
            campaign_id,
            (
                (
                    f"user{index}@example.org",
                    {
                        "first_name": f"Person {index}",
                        "plan": "Pro" if index % 3 else "Team",
                        "renews": "2027-01-12",
                        "id": index,
                    },
                )
                for index in range(recipients)
            ),
        )
        await start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="bench", now=utcnow()
        )
    async with database.transaction() as connection:
        rules = CooldownRules(days=settings.cooldown_days, scope=settings.cooldown_scope)
        await fan_out(connection, campaign_id, rules=rules, now=utcnow())


async def measure(
    kind: str, url: str, smtp: str, connections: int, recipients: int
) -> tuple[float, float]:
    """(messages per second, CPU seconds of this process per message)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=smtp,
        smtp_connections=connections,
    )
    database = Database(url)
    try:
        await prepare(database, settings, recipients)
        worker = Worker(
            database, settings, transport=create_transport(settings), wakeups=LocalWakeups()
        )
        started, cpu = time.perf_counter(), time.process_time()
        await worker.run_burst()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with database.connection() as connection:
            sent = await connection.scalar(
                select(func.count()).where(deliveries.c.status == "sent")
            )
        assert sent == recipients, f"{sent} of {recipients} sent"
    finally:
        await database.dispose()
    return recipients / elapsed, cpu / recipients


def run_case(kind: str, delay: float, connections: int, recipients: int) -> None:
    with smtp_sink(delay) as smtp, database_url(kind) as url:
        rate, cpu = run_event_loop(measure(kind, url, smtp, connections, recipients))
    print(
        f"{kind:<10} delay={delay * 1000:>4.0f} ms  connections={connections:>3}  "
        f"recipients={recipients:>6}  {rate:>7.0f} messages/s  "
        f"{cpu * 1e6:>5.0f} µs CPU/message",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--recipients", type=int, default=None)
    parser.add_argument("--connections", type=int, nargs="*", default=None)
    parser.add_argument("--delay", type=float, default=None, help="SMTP reply delay, seconds")
    arguments = parser.parse_args()
    logging.disable(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if arguments.database == "both" else [arguments.database]
    if arguments.delay is None and arguments.connections is None:
        for kind in kinds:
            for connections in (8, 32):
                run_case(kind, 0.0, connections, arguments.recipients or 20_000)
        for connections in (1, 8, 32):
            run_case(kinds[0], 0.02, connections, arguments.recipients or 150 * connections)
        return
    for kind in kinds:
        for connections in arguments.connections or [8]:
            delay = arguments.delay or 0.0
            default = 20_000 if delay == 0 else 150 * connections
            run_case(kind, delay, connections, arguments.recipients or default)


if __name__ == "__main__":
    main()
