"""Webhooks: how fast the dispatcher posts events, and what the outbox costs sending.

- Delivery rate: ``--webhook-events`` events already in the outbox (SQLite), posted by one
  dispatcher (this process, default settings: 32 POSTs in flight, 4 per endpoint) to a
  loopback HTTP receiver in a process of its own that answers 200 at once; to one
  endpoint, then spread over eight.
- Outbox cost: delivery from one worker process to the aiosmtpd sink on SQLite (as the DKIM
  figures), the same campaign with no webhook endpoint and with one endpoint subscribed to
  ``sent`` (one outbox row written per message, in the recorder's transaction),
  alternating, medians reported.

``python -m benchmarks --only webhooks`` runs it as a section; ``python -m
benchmarks.webhooks`` prints the figures alone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import (
    SmtpSink,
    bench_settings,
    create_organization,
    database_url,
    free_port,
    seed_queued,
    worker_burst,
)
from benchmarks.report import Figure, Report
from campaignd.runtime import run_event_loop
from campaignd.store.database import Database
from campaignd.store.outbox import Event, record_events
from campaignd.store.schema import webhook_messages

TARGET_SHARE = 0.90
"""Sending with an endpoint subscribed to ``sent`` keeps at least this share of the rate
without one."""


# ---------------------------------------------------------------- a receiver


def _receive(port: int, ready: Any) -> None:
    """An HTTP/1.1 server on 127.0.0.1:``port`` that answers every request 200 at once."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=512)
        ready.set()
        async with server:
            await server.serve_forever()

    run_event_loop(main())


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._process = context.Process(target=_receive, args=(self.port, self._ready))

    def __enter__(self) -> Receiver:
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._process.terminate()
        self._process.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


# ---------------------------------------------------------------- delivery rate


async def _add_endpoints(database: Database, url: str, urls: list[str], kinds: list[str]) -> None:
    from campaignd.actions import webhooks as actions
    from campaignd.actions.principal import Principal, Role
    from campaignd.actions.services import Services
    from campaignd.wakeups import LocalWakeups

    services = Services(database, bench_settings(url, webhook_allow_loopback=True), LocalWakeups())
    for endpoint in urls:
        await actions.add_endpoint(
            services,
            Principal(actor="benchmark", role=Role.PLATFORM_ADMIN),
            url=endpoint,
            event_types=kinds,
            organization="bench",
        )


async def _dispatch_rate(url: str, receiver: Receiver, events: int, endpoints: int) -> float:
    """Events per second posted by one dispatcher; every event delivered, checked."""
    from campaignd.delivery.webhooks import Dispatcher

    database = Database(url)
    try:
        async with database.transaction() as connection:
            organization_id = await create_organization(connection)
        await _add_endpoints(
            database,
            url,
            [receiver.url(f"hooks/{index}") for index in range(endpoints)],
            ["clicked"],
        )
        per_endpoint = events // endpoints
        for start in range(0, per_endpoint, 5_000):
            batch = [
                Event(organization_id, "clicked", {"campaignId": 1, "link": number})
                for number in range(start, min(per_endpoint, start + 5_000))
            ]
            async with database.transaction() as connection:
                await record_events(connection, batch)
        settings = bench_settings(url, webhook_allow_loopback=True)
        dispatcher = Dispatcher(database, settings)
        started = time.perf_counter()
        await dispatcher.run_burst()
        seconds = time.perf_counter() - started
        async with database.connection() as connection:
            delivered = await connection.scalar(
                select(func.count()).where(webhook_messages.c.status == "delivered")
            )
        if delivered != per_endpoint * endpoints:
            async with database.connection() as connection:
                errors = (
                    await connection.execute(
                        select(webhook_messages.c.last_error, func.count())
                        .where(webhook_messages.c.status != "delivered")
                        .group_by(webhook_messages.c.last_error)
                    )
                ).all()
            raise RuntimeError(
                f"{delivered} of {per_endpoint * endpoints} events delivered; errors: {errors}"
            )
        return float(delivered) / seconds
    finally:
        await database.dispose()


# ---------------------------------------------------------------- outbox cost


async def _queue(url: str, messages: int, *, subscribed: bool) -> None:
    database = Database(url)
    try:
        await seed_queued(database, messages)
        if subscribed:
            await _add_endpoints(database, url, ["http://127.0.0.1:9/hooks"], ["sent"])
    finally:
        await database.dispose()


async def _outbox_rows(url: str) -> int:
    database = Database(url)
    try:
        async with database.connection() as connection:
            return int(
                await connection.scalar(select(func.count()).select_from(webhook_messages)) or 0
            )
    finally:
        await database.dispose()


def _worker(url: str, transport: str, connections: int, go: Any, results: Any) -> None:
    import campaignd.delivery.worker  # noqa: F401  (imported before the clock starts)

    go.wait()
    started, cpu = time.perf_counter(), time.process_time()
    run_event_loop(worker_burst(url, transport, connections))
    results.put((time.perf_counter() - started, time.process_time() - cpu))


def _send_rate(
    directory: Path, messages: int, connections: int, *, subscribed: bool
) -> tuple[float, float]:
    """(messages per second, µs of the worker's CPU per message) from one worker process."""
    context = multiprocessing.get_context("spawn")
    with SmtpSink(kind="aiosmtpd") as sink, database_url("sqlite", directory, None) as url:
        asyncio.run(_queue(url, messages, subscribed=subscribed))
        go, results = context.Event(), context.Queue()
        child = context.Process(target=_worker, args=(url, sink.url, connections, go, results))
        child.start()
        time.sleep(1.5)
        go.set()
        seconds, cpu = results.get(timeout=3600)
        child.join(30)
        received = sink.received
        rows = asyncio.run(_outbox_rows(url))
    if received != messages:
        raise RuntimeError(f"the sink received {received:,} of {messages:,} messages")
    expected = messages if subscribed else 0
    if rows != expected:
        raise RuntimeError(f"{rows:,} outbox rows, expected {expected:,}")
    return received / seconds, cpu / received * 1e6


def measure_webhooks(
    report: Report,
    step: Callable[[str], None],
    *,
    events: int,
    messages: int,
    connections: int,
    directory: Path,
    quick: bool,
) -> None:
    """The webhook figures of ``python -m benchmarks``."""
    with Receiver() as receiver:
        for endpoints in (1, 8):
            step(f"Webhooks: {events:,} events to {endpoints} loopback endpoint(s), SQLite")
            with database_url("sqlite", directory, None) as url:
                rate = asyncio.run(_dispatch_rate(url, receiver, events, endpoints))
            report.add(
                Figure(
                    section="webhooks",
                    name=f"webhook delivery, {endpoints} endpoint{'s' if endpoints > 1 else ''}",
                    value=rate,
                    unit="events/s",
                    note="one dispatcher, default concurrency (32, 4 per endpoint), SQLite, "
                    "signed POSTs to a loopback receiver answering 200",
                )
            )
    rounds = 1 if quick else 3
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for round_number in range(1, rounds + 1):
        for subscribed in (False, True):
            kind = "one endpoint subscribed to sent" if subscribed else "no endpoint"
            step(
                f"Webhooks outbox cost, round {round_number}/{rounds}: {messages:,} messages, "
                f"{kind}, 1 worker process, {connections} connections"
            )
            rate, per_message = _send_rate(directory, messages, connections, subscribed=subscribed)
            rates[subscribed].append(rate)
            cpu[subscribed].append(per_message)
    plain, with_outbox = statistics.median(rates[False]), statistics.median(rates[True])
    rounds_note = "" if rounds == 1 else f", median of {rounds} alternating rounds"
    for subscribed in (False, True):
        report.add(
            Figure(
                section="webhooks",
                name="worker CPU per message, "
                + ("one endpoint subscribed to sent" if subscribed else "no endpoint"),
                value=statistics.median(cpu[subscribed]),
                unit="µs/msg",
                baseline=statistics.median(cpu[False]) if subscribed else None,
                baseline_note="no endpoint" if subscribed else "",
                note="the worker process, every thread",
            )
        )
    report.add(
        Figure(
            section="webhooks",
            name="delivery, no webhook endpoint, SQLite, 1 process",
            value=plain,
            unit="msg/s",
            note=f"{connections} connections, aiosmtpd sink{rounds_note}: "
            + " / ".join(f"{rate:,.0f}" for rate in rates[False]),
        )
    )
    report.add(
        Figure(
            section="webhooks",
            name="delivery, one endpoint subscribed to sent, SQLite, 1 process",
            value=with_outbox,
            unit="msg/s",
            baseline=plain,
            baseline_note="no endpoint, same run",
            target=f">= {TARGET_SHARE:.0%} of no endpoint",
            met=with_outbox >= TARGET_SHARE * plain,
            note=f"one outbox row per message{rounds_note}: "
            + " / ".join(f"{rate:,.0f}" for rate in rates[True]),
        )
    )


def main() -> None:
    import tempfile

    from benchmarks.report import render

    report = Report(command="python -m benchmarks.webhooks")
    directory = Path(tempfile.mkdtemp(prefix="campaignd-bench-"))
    measure_webhooks(
        report,
        print,
        events=5_000,
        messages=5_000,
        connections=8,
        directory=directory,
        quick=False,
    )
    from rich.console import Console

    render(report, Console())


if __name__ == "__main__":
    main()
