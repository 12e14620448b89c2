"""Shared set-up of the benchmarks: fresh databases, seeded audiences, an SMTP sink.

Seeding uses one bulk statement per table (a recursive CTE on SQLite, ``generate_series``
on PostgreSQL) so that a million recipients are in place in seconds and the figures
measure campaignd, not the set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import bindparam, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.lifecycle import CampaignStatus, Trigger
from campaignd.runtime import run_event_loop
from campaignd.settings import Settings
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.database import Database
from campaignd.store.migrate import upgrade
from campaignd.store.runs import start_campaign
from campaignd.store.schema import campaign_lists, campaigns, lists, organizations

POSTGRES_ENVIRONMENT = "CAMPAIGND_TEST_DATABASE_URL"
COOLDOWN_DAYS = 90
HOLDER_NAME = "Winter Event"

SUBJECT = "{{ first_name }}, our spring selection is here"
HTML_BODY = """<!doctype html>
<html><body>
<h1>Hello {{ first_name }}!</h1>
<p>Spring is here and so is our new selection for {{ city }}. As a thank-you for being
with us since {{ since }}, here is 15% off your next order with the code SPRING15.</p>
<ul>
<li>Linen shirts in six colours</li>
<li>Garden furniture, made to last</li>
<li>Hand-thrown ceramics from local makers</li>
</ul>
<p><a href="https://shop.example.org/spring?who={{ email | urlencode }}">See the selection</a></p>
<p>Happy spring,<br>The Example Shop team</p>
<p style="font-size:12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""
TEXT_BODY = """Hello {{ first_name }}!

Spring is here and so is our new selection for {{ city }}. As a thank-you for being
with us since {{ since }}, here is 15% off your next order with the code SPRING15.

- Linen shirts in six colours
- Garden furniture, made to last
- Hand-thrown ceramics from local makers

See the selection: https://shop.example.org/spring

Happy spring,
The Example Shop team

Unsubscribe: {{ unsubscribe_url }}
"""
CITIES = ("Lisbon", "Berlin", "Montréal", "Osaka", "Nairobi")


def email_of(number: int) -> str:
    return f"person{number}@example.org"


def variables_of(number: int) -> dict[str, str]:
    return {
        "first_name": f"Person {number}",
        "city": CITIES[number % len(CITIES)],
        "since": str(2010 + number % 15),
    }


# ---------------------------------------------------------------- databases


def sqlite_url(directory: Path, name: str = "campaignd.db") -> str:
    """A new, migrated SQLite file in ``directory``."""
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def postgres_base_url(option: str | None) -> str | None:
    """``--postgres URL``, else ``CAMPAIGND_TEST_DATABASE_URL``, else None (skipped)."""
    return option or os.environ.get(POSTGRES_ENVIRONMENT) or None


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    """``--postgres URL``: the server a benchmark makes its databases on."""
    parser.add_argument("--postgres", default=None, help="server URL (default: the test one)")


def required_postgres(parser: argparse.ArgumentParser, option: str | None) -> str:
    """The server of ``--postgres`` or the test one; without either, the usage and exit 2."""
    base = postgres_base_url(option)
    if base is None:
        parser.error(f"no PostgreSQL: set --postgres or {POSTGRES_ENVIRONMENT}")
    return base


def _libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database next to ``base_url``'s, dropped afterwards."""
    name = f"campaignd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(base_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _libpq(base_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_libpq(base_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def database_url(kind: str, directory: Path, postgres: str | None) -> Iterator[str]:
    """A fresh database of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield sqlite_url(directory, f"bench-{uuid.uuid4().hex[:8]}.db")
        return
    assert postgres is not None, "no PostgreSQL URL"
    with postgres_database(postgres) as url:
        yield url


def bench_settings(url: str, **overrides: Any) -> Settings:
    """Settings for a benchmark: its database, no ``.env``, the defaults otherwise."""
    values: dict[str, Any] = {
        "database_url": url,
        "email_transport": "file://" + tempfile.mkdtemp(prefix="campaignd-outbox-"),
        "session_secret": "benchmark-session-secret",
        "cooldown_days": COOLDOWN_DAYS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


# ---------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Audience:
    """What was seeded: the campaign to send and how its recipients stand."""

    organization_id: int
    campaign_id: int
    recipients: int
    in_cooldown: int


async def create_organization(connection: AsyncConnection, slug: str = "bench") -> int:
    statement = (
        insert(organizations)
        .values(slug=slug, name="Benchmark Org", created_at=utcnow())
        .returning(organizations.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def create_campaign(
    connection: AsyncConnection,
    organization_id: int,
    *,
    name: str = "Spring Selection",
    status: CampaignStatus = CampaignStatus.DRAFT,
    scheduled_for: datetime | None = None,
) -> int:
    now = utcnow()
    statement = (
        insert(campaigns)
        .values(
            organization_id=organization_id,
            name=name,
            subject=SUBJECT,
            html_body=HTML_BODY,
            text_body=TEXT_BODY,
            from_address="Example Shop <news@shop.example.org>",
            status=status.value,
            scheduled_for=scheduled_for,
            created_by="benchmark",
            created_at=now,
            updated_at=now,
        )
        .returning(campaigns.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


def _numbers(dialect: str) -> tuple[str, str]:
    """A ``WITH`` prefix and a ``FROM`` source that yield ``i`` = first .. last."""
    if dialect == "sqlite":
        return (
            "WITH RECURSIVE numbers(i) AS (SELECT :first UNION ALL "
            "SELECT i + 1 FROM numbers WHERE i < :last) ",
            "numbers",
        )
    return "", "generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS numbers(i)"


def _personal_variables(dialect: str) -> str:
    """SQL for the variables of ``person{i}`` (as ``variables_of``), a JSON object."""
    cities = "', '".join(CITIES)
    if dialect == "sqlite":
        city = f"json_extract(json_array('{cities}'), '$[' || (i % {len(CITIES)}) || ']')"
        return (
            "json_object('first_name', 'Person ' || i, 'city', "
            f"{city}, 'since', CAST(2010 + i % 15 AS TEXT))"
        )
    city = f"(ARRAY['{cities}'])[1 + i % {len(CITIES)}]"
    return (
        "json_build_object('first_name', 'Person ' || i, 'city', "
        f"{city}, 'since', CAST(2010 + i % 15 AS TEXT))"
    )


async def insert_recipients(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    first: int,
    last: int,
    status: str = "queued",
) -> None:
    """Recipients ``person{first..last}@example.org`` with personal variables, one statement."""
    dialect = connection.dialect.name
    prefix, source = _numbers(dialect)
    variables = _personal_variables(dialect)
    statement = text(
        f"{prefix}INSERT INTO deliveries (campaign_id, email, variables, status, attempts) "
        f"SELECT :campaign_id, 'person' || i || '@example.org', {variables}, :status, 0 "
        f"FROM {source}"
    )
    await connection.execute(
        statement,
        {"campaign_id": campaign_id, "first": first, "last": last, "status": status},
    )


async def insert_contacts(
    connection: AsyncConnection, organization_id: int, *, first: int, last: int
) -> None:
    """Subscribed contacts ``person{first..last}@example.org`` with the recipients' variables
    as attributes, one statement."""
    dialect = connection.dialect.name
    prefix, source = _numbers(dialect)
    attributes = _personal_variables(dialect)
    if dialect == "postgresql":
        attributes = f"CAST({attributes} AS jsonb)"
    statement = text(
        f"{prefix}INSERT INTO contacts (organization_id, email, attributes, status, source, "
        "created_at, updated_at) "
        f"SELECT :organization_id, 'person' || i || '@example.org', {attributes}, "
        f"'subscribed', 'benchmark', :now, :now FROM {source}"
    ).bindparams(bindparam("now", type_=UtcDateTime()))
    await connection.execute(
        statement,
        {"organization_id": organization_id, "first": first, "last": last, "now": utcnow()},
    )


async def create_list(connection: AsyncConnection, organization_id: int, name: str) -> int:
    now = utcnow()
    statement = (
        insert(lists)
        .values(
            organization_id=organization_id,
            name=name,
            visibility="private",
            opt_in="single",
            created_at=now,
            updated_at=now,
        )
        .returning(lists.c.id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def insert_members(connection: AsyncConnection, list_id: int, organization_id: int) -> None:
    """Every contact of the organization, a confirmed member of the list, one statement."""
    statement = text(
        "INSERT INTO list_members (list_id, contact_id, status, created_at, updated_at) "
        "SELECT :list_id, id, 'confirmed', :now, :now FROM contacts "
        "WHERE organization_id = :organization_id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))
    await connection.execute(
        statement, {"list_id": list_id, "organization_id": organization_id, "now": utcnow()}
    )


async def insert_ledger(
    connection: AsyncConnection,
    *,
    first: int,
    last: int,
    every: int,
    remainder: int,
    campaign_id: int,
    campaign_name: str,
    contacted_at: datetime,
) -> None:
    """Contact-ledger entries (global scope) for every ``every``-th address of the range."""
    prefix, source = _numbers(connection.dialect.name)
    statement = text(
        f"{prefix}INSERT INTO cooldown_ledger"
        " (scope, email, campaign_id, campaign_name, contacted_at) "
        f"SELECT 0, 'person' || i || '@example.org', :campaign_id, :campaign_name, "
        f":contacted_at FROM {source} WHERE i % :every = :remainder"
    ).bindparams(bindparam("contacted_at", type_=UtcDateTime()))
    await connection.execute(
        statement,
        {
            "first": first,
            "last": last,
            "every": every,
            "remainder": remainder,
            "campaign_id": campaign_id,
            "campaign_name": campaign_name,
            "contacted_at": contacted_at,
        },
    )


async def seed_audience(
    database: Database,
    recipients: int,
    *,
    first: int = 1,
    status: CampaignStatus = CampaignStatus.DRAFT,
    scheduled_for: datetime | None = None,
    organization_id: int | None = None,
) -> Audience:
    """A campaign of ``recipients`` recipients not yet fanned out; a fifth of them are in cooldown.

    The fifth in cooldown were mailed 15 days ago by a sent campaign ("Winter Event");
    another fifth were mailed 200 days ago, so their ledger entries are taken over.
    """
    last = first + recipients - 1
    now = utcnow()
    async with database.transaction() as connection:
        if organization_id is None:
            organization_id = await create_organization(connection)
        holder = await create_campaign(
            connection, organization_id, name=HOLDER_NAME, status=CampaignStatus.SENT
        )
        campaign_id = await create_campaign(
            connection, organization_id, status=status, scheduled_for=scheduled_for
        )
        await insert_recipients(connection, campaign_id, first=first, last=last)
        await insert_ledger(
            connection,
            first=first,
            last=last,
            every=5,
            remainder=0,
            campaign_id=holder,
            campaign_name=HOLDER_NAME,
            contacted_at=now - timedelta(days=15),
        )
        await insert_ledger(
            connection,
            first=first,
            last=last,
            every=5,
            remainder=1,
            campaign_id=holder,
            campaign_name="Last Year's Sale",
            contacted_at=now - timedelta(days=200),
        )
    in_cooldown = last // 5 - (first - 1) // 5
    return Audience(organization_id, campaign_id, recipients, in_cooldown)


async def seed_list_audience(database: Database, contacts: int) -> Audience:
    """A campaign with no recipients of its own that targets one list of ``contacts``
    subscribed, confirmed contacts; a fifth of them in cooldown, as in ``seed_audience``."""
    now = utcnow()
    async with database.transaction() as connection:
        organization_id = await create_organization(connection)
        holder = await create_campaign(
            connection, organization_id, name=HOLDER_NAME, status=CampaignStatus.SENT
        )
        campaign_id = await create_campaign(connection, organization_id)
        await insert_contacts(connection, organization_id, first=1, last=contacts)
        list_id = await create_list(connection, organization_id, "Everyone")
        await insert_members(connection, list_id, organization_id)
        await connection.execute(
            insert(campaign_lists).values(campaign_id=campaign_id, list_id=list_id)
        )
        for remainder, name, days in ((0, HOLDER_NAME, 15), (1, "Last Year's Sale", 200)):
            await insert_ledger(
                connection,
                first=1,
                last=contacts,
                every=5,
                remainder=remainder,
                campaign_id=holder,
                campaign_name=name,
                contacted_at=now - timedelta(days=days),
            )
    return Audience(organization_id, campaign_id, contacts, contacts // 5)


async def analyse(database: Database) -> None:
    """Fresh planner statistics after a bulk load (as autovacuum would do, only now)."""
    async with database.transaction() as connection:
        await connection.execute(text("ANALYZE"))


async def start_manually(database: Database, campaign_id: int) -> None:
    """Draft -> sending with a run, as "Execute now" does."""
    async with database.transaction() as connection:
        run = await start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="benchmark", now=utcnow()
        )
    assert run is not None, "the campaign could not be started"


async def seed_queued(
    database: Database, recipients: int, *, rules_days: int = COOLDOWN_DAYS
) -> Audience:
    """A started, fanned-out campaign with ``recipients`` queued deliveries (no cooldown)."""
    from campaignd.store.fanout import CooldownRules, fan_out

    now = utcnow()
    async with database.transaction() as connection:
        organization_id = await create_organization(connection)
        campaign_id = await create_campaign(connection, organization_id)
        await insert_recipients(connection, campaign_id, first=1, last=recipients)
    await start_manually(database, campaign_id)
    async with database.transaction() as connection:
        counts = await fan_out(
            connection,
            campaign_id,
            rules=CooldownRules(days=rules_days, scope="global"),
            now=now,
        )
    assert counts is not None and counts.get("queued") == recipients, counts
    return Audience(organization_id, campaign_id, recipients, 0)


# ---------------------------------------------------------------- SMTP sink


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _CountingHandler:
    def __init__(self, counter: Synchronized[int], delay: float) -> None:
        self.counter = counter
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


class MinimalSmtp(asyncio.Protocol):
    """An SMTP server that does no work: it answers every command and counts messages.

    It parses nothing but line ends and the end of DATA, so on a 2-core machine it leaves
    the CPU to the sender; aiosmtpd, a complete server in Python, spends more per message
    than campaignd does. It answers every command it has read, in order, in one write, so
    with ``pipelining`` it offers PIPELINING (RFC 2920) in its EHLO reply. With ``delay``,
    a message is accepted (and counted) that many seconds after its data ended; nothing
    the client sent meanwhile is answered before.
    """

    def __init__(
        self, counter: Synchronized[int], *, pipelining: bool = False, delay: float = 0.0
    ) -> None:
        self.counter = counter
        self.extensions = b"250-8BITMIME\r\n" + (b"250-PIPELINING\r\n" if pipelining else b"")
        self.delay = delay
        self.buffer = b""
        self.in_data = False
        self.held = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink.local ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if self.held:
            return
        replies: list[bytes] = []
        closing = False
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:] if len(self.buffer) > 4 else self.buffer
                    break
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                if self.delay:
                    self.held = True
                    asyncio.get_running_loop().call_later(self.delay, self._accept)
                    break
                with self.counter.get_lock():
                    self.counter.value += 1
                replies.append(b"250 2.0.0 OK\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            command = self.buffer[:4].upper()
            self.buffer = self.buffer[end + 2 :]
            if command in (b"EHLO", b"HELO"):
                replies.append(b"250-sink.local\r\n" + self.extensions + b"250 SMTPUTF8\r\n")
            elif command == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer
                replies.append(b"354 go ahead\r\n")
            elif command == b"QUIT":
                replies.append(b"221 bye\r\n")
                closing = True
                break
            else:
                replies.append(b"250 OK\r\n")
        if replies:
            self.transport.write(b"".join(replies))
        if closing:
            self.transport.close()

    def _accept(self) -> None:
        """The delayed acceptance of a message, then whatever came meanwhile."""
        assert self.transport is not None
        with self.counter.get_lock():
            self.counter.value += 1
        self.held = False
        if not self.transport.is_closing():
            self.transport.write(b"250 2.0.0 OK\r\n")
            self.data_received(b"")


def _run_sink(
    port: int, counter: Synchronized[int], ready: Any, delay: float, kind: str, pipelining: bool
) -> None:
    from aiosmtpd.smtp import SMTP

    def protocol() -> asyncio.Protocol:
        if kind == "minimal":
            return MinimalSmtp(counter, pipelining=pipelining, delay=delay)
        handler = _CountingHandler(counter, delay)
        return SMTP(handler, hostname="sink.local", data_size_limit=0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class SmtpSink:
    """A local SMTP server in its own process that accepts everything and counts messages.

    ``kind`` is "aiosmtpd" (a complete server) or "minimal" (``MinimalSmtp``, which offers
    PIPELINING when ``pipelining``). A process rather than a thread, so that it does not
    take the GIL from the sender.
    """

    def __init__(
        self, *, kind: str = "aiosmtpd", delay: float = 0.0, pipelining: bool = False
    ) -> None:
        if pipelining and kind != "minimal":
            raise ValueError("only the minimal sink offers PIPELINING")
        self.kind = kind
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._counter: Synchronized[int] = context.Value("q", 0)
        ready = context.Event()
        self._process = context.Process(
            target=_run_sink,
            args=(self.port, self._counter, ready, delay, kind, pipelining),
            daemon=True,
        )
        self._process.start()
        if not ready.wait(30):
            self.close()
            raise RuntimeError("the SMTP sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> int:
        return int(self._counter.value)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def reset(self) -> None:
        with self._counter.get_lock():
            self._counter.value = 0

    def wait_for(self, count: int, timeout: float = 600.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.received < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(5)

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- delivery workers


async def worker_burst(database_url: str, transport_url: str, connections: int) -> float:
    """Build a worker as ``serve`` builds it and drain the queue; returns the seconds taken."""
    from campaignd.delivery.rate import create_rate_limiter
    from campaignd.delivery.transports import create_transport
    from campaignd.delivery.worker import Worker
    from campaignd.wakeups import LocalWakeups

    settings = bench_settings(
        database_url, email_transport=transport_url, smtp_connections=connections
    )
    database = Database(database_url)
    worker = Worker(
        database,
        settings,
        transport=create_transport(settings),
        wakeups=LocalWakeups(),
        rate_limiter=create_rate_limiter(settings),
    )
    started = time.perf_counter()
    try:
        await worker.run_burst()
    finally:
        await database.dispose()
    return time.perf_counter() - started


def _worker_process(
    database_url: str, transport_url: str, connections: int, go: Any, results: Any
) -> None:
    import campaignd.delivery.worker  # noqa: F401  (imported before the clock starts)

    go.wait()
    started = time.time()
    run_event_loop(worker_burst(database_url, transport_url, connections))
    results.put((started, time.time()))


def workers_in_processes(
    database_url: str, transport_url: str, *, processes: int, connections: int
) -> float:
    """Drain the queue with ``processes`` worker processes started together; wall seconds.

    The processes are started and imported first, then released at once, so interpreter
    start-up is not counted.
    """
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    results = context.Queue()
    children = [
        context.Process(
            target=_worker_process,
            args=(database_url, transport_url, connections, go, results),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    time.sleep(1.5)
    go.set()
    spans: list[tuple[float, float]] = [results.get(timeout=3600) for _ in children]
    for child in children:
        child.join(30)
    return max(end for _, end in spans) - min(start for start, _ in spans)
