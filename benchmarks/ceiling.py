"""How close ``serve`` comes to the SMTP ceiling of one Python process.

In one run, against the same SMTP sink (the minimal server of ``benchmarks.common``, in its
own process):

1. the **ceiling**: prebuilt message bytes of the size campaignd sends, over the same number
   of persistent aiosmtplib connections as ``SMTP_CONNECTIONS`` (8), no database, nothing
   rendered: what any Python sender can reach here;
2. ``campaignd serve`` delivering an already fanned-out campaign of N recipients (fan-out
   excluded) on SQLite, and on PostgreSQL + Redis when a server is given, timed from its
   first message at the sink to its last.

    python -m benchmarks.ceiling                        # 100,000 messages
    python -m benchmarks.ceiling --messages 20000 --postgres postgresql://postgres@127.0.0.1/test

``--pipelining`` compares, in one run against a sink that offers PIPELINING (RFC 2920):
prebuilt bytes through campaignd's SMTP transport one command at a time and pipelined (no
database), and ``serve`` with ``SMTP_PIPELINING=off`` and ``auto``, alternating, ``--rounds``
times.

    python -m benchmarks.ceiling --pipelining --messages 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from rich.console import Console

from benchmarks.common import (
    HTML_BODY,
    TEXT_BODY,
    SmtpSink,
    database_url,
    postgres_base_url,
    seed_queued,
)
from benchmarks.memory import ServedInstance
from campaignd.delivery.messages import Message
from campaignd.delivery.transports import SmtpTarget, SmtpTransport
from campaignd.store.database import Database

CONNECTIONS = 8
console = Console()


def prebuilt_message() -> bytes:
    """A message of the size and shape campaignd sends (headers, text and HTML parts, CRLF
    line ends)."""
    headers = (
        "From: Example Shop <news@shop.example.org>\r\n"
        "To: person1@example.org\r\n"
        "Subject: Spring Selection for you\r\n"
        "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n"
        "Message-ID: <1.1.abcdef@shop.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "List-Unsubscribe: <https://campaignd.example.org/u/token>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    )
    text, html = (body.replace("\n", "\r\n") for body in (TEXT_BODY, HTML_BODY))
    body = (
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b--\r\n"
    )
    return (headers + body).encode()


@dataclass(frozen=True)
class Measured:
    """One sending run: messages/s, and CPU per message of the sender and of the sink
    (CPU time does not move with what else runs on the machine; the rate does)."""

    rate: float
    sender_cpu: float  # seconds per message
    sink_cpu: float


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command's name: the state first, then
    the parent's pid, ...; ``OSError`` once the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_of(fields: list[str]) -> float:
    """User + system CPU time so far, in seconds, from ``stat_fields``."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    return cpu_of(stat_fields(pid))


async def ceiling(sink: SmtpSink, messages: int, connections: int) -> Measured:
    """Prebuilt bytes over ``connections`` persistent aiosmtplib connections: messages/s,
    and the CPU a message of this client and of the sink."""
    message = prebuilt_message()
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    remaining = messages

    async def send(client: aiosmtplib.SMTP) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.sendmail("bounce@shop.example.org", ["person@example.org"], message)

    sink_started, cpu_started = cpu_seconds(sink.pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(send(client) for client in clients))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    sink_cpu = cpu_seconds(sink.pid) - sink_started
    for client in clients:
        await client.quit()
    return Measured(messages / seconds, cpu / messages, sink_cpu / messages)


async def transport_ceiling(
    sink: SmtpSink, messages: int, connections: int, pipelining: bool
) -> Measured:
    """Prebuilt bytes through campaignd's ``SmtpTransport`` (connections opened before
    the clock starts), with or without pipelining; no database."""
    target = SmtpTarget.from_url(sink.url)
    transport = SmtpTransport(target, connections=connections, pipelining=pipelining)
    message = Message(
        "1.1.abcdef@shop.example.org",
        "bounce@shop.example.org",
        "person@example.org",
        prebuilt_message(),
    )
    await asyncio.gather(*(transport.send(message) for _ in range(connections)))
    remaining = messages

    async def send() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            reply = await transport.send(message)
            if not reply.accepted:
                raise RuntimeError(f"the sink refused a message: {reply}")

    sink_started, cpu_started = cpu_seconds(sink.pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(send() for _ in range(connections)))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    sink_cpu = cpu_seconds(sink.pid) - sink_started
    await transport.close()
    return Measured(messages / seconds, cpu / messages, sink_cpu / messages)


async def _queued(url: str, messages: int) -> None:
    database = Database(url)
    try:
        await seed_queued(database, messages)
    finally:
        await database.dispose()


def served_measured(
    directory: Path, url: str, sink: SmtpSink, messages: int, **settings: str
) -> Measured:
    """Messages/s of ``serve`` from the sink's first message of the campaign to its last,
    with the CPU that ``serve`` and the sink spent meanwhile."""
    asyncio.run(_queued(url, messages))
    sink.reset()
    with ServedInstance(
        directory, url, email_transport=sink.url, smtp_connections=str(CONNECTIONS), **settings
    ) as instance:
        while sink.received == 0:
            time.sleep(0.001)
        started = time.perf_counter()
        cpu_started, sink_started = cpu_seconds(instance.pid), cpu_seconds(sink.pid)
        first = sink.received
        if not sink.wait_for(messages, timeout=3600):
            raise RuntimeError(f"serve delivered {sink.received:,} of {messages:,}")
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(instance.pid) - cpu_started
        sink_cpu = cpu_seconds(sink.pid) - sink_started
    count = messages - first
    return Measured(count / seconds, cpu / count, sink_cpu / count)


def _cpu(run: Measured) -> str:
    return (
        f"CPU a message: sender {run.sender_cpu * 1e6:,.0f} µs, sink {run.sink_cpu * 1e6:,.0f} µs"
    )


def _line(name: str, off: Measured, on: Measured) -> str:
    return (
        f"  {name}: {off.rate:,.0f} -> {on.rate:,.0f} msg/s ({on.rate / off.rate:.2f}x); "
        f"sender CPU {off.sender_cpu * 1e6:,.0f} -> {on.sender_cpu * 1e6:,.0f} µs/msg "
        f"({on.sender_cpu / off.sender_cpu - 1:+.0%}), sink CPU {off.sink_cpu * 1e6:,.0f} -> "
        f"{on.sink_cpu * 1e6:,.0f} µs/msg"
    )


def pipelining(messages: int, postgres: str | None, redis: str, rounds: int) -> None:
    """The ``--pipelining`` comparison (see the module docstring), printed as it goes:
    each line is without -> with pipelining."""
    with SmtpSink(kind="minimal", pipelining=True) as sink, tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        console.print(
            f"{messages:,} messages, {CONNECTIONS} connections, minimal SMTP sink offering "
            "PIPELINING; without -> with pipelining"
        )
        kinds: list[tuple[str, str, dict[str, str]]] = [("SQLite", "sqlite", {})]
        if postgres is not None:
            kinds.append(("PostgreSQL + Redis", "postgresql", {"redis_url": redis}))
        for round_number in range(1, rounds + 1):
            console.print(f"round {round_number}, load average {os.getloadavg()[0]:.1f}")
            order = (False, True) if round_number % 2 else (True, False)
            runs = {
                on: asyncio.run(transport_ceiling(sink, messages, CONNECTIONS, on)) for on in order
            }
            console.print(_line("transport, prebuilt bytes", runs[False], runs[True]))
            for name, kind, settings in kinds:
                for on in order:
                    mode = "auto" if on else "off"
                    with database_url(kind, directory, postgres) as url:
                        runs[on] = served_measured(
                            directory, url, sink, messages, smtp_pipelining=mode, **settings
                        )
                console.print(_line(f"serve, {name}", runs[False], runs[True]))
        console.print(f"load average at the end {os.getloadavg()[0]:.1f}")


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, help="server URL (default: the test one)")
    parser.add_argument(
        "--pipelining",
        action="store_true",
        help="compare SMTP_PIPELINING=off and auto against a sink that offers PIPELINING",
    )
    parser.add_argument("--rounds", type=int, default=1, help="--pipelining rounds (default 1)")
    options = parser.parse_args(arguments)
    postgres = postgres_base_url(options.postgres)
    redis = os.environ.get("CAMPAIGND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if options.pipelining:
        pipelining(options.messages, postgres, redis, max(1, options.rounds))
        return 0
    results: list[tuple[str, Measured]] = []
    with SmtpSink(kind="minimal") as sink, tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        raw = asyncio.run(ceiling(sink, options.messages, CONNECTIONS))
        with database_url("sqlite", directory, None) as url:
            results.append(
                ("serve, SQLite", served_measured(directory, url, sink, options.messages))
            )
        if postgres is not None:
            with database_url("postgresql", directory, postgres) as url:
                results.append(
                    (
                        "serve, PostgreSQL + Redis",
                        served_measured(directory, url, sink, options.messages, redis_url=redis),
                    )
                )
    console.print(
        f"{options.messages:,} messages, {CONNECTIONS} connections, minimal SMTP sink; "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    console.print(f"  ceiling (prebuilt bytes, no database): {raw.rate:,.0f} msg/s; {_cpu(raw)}")
    for name, run in results:
        console.print(
            f"  {name}: {run.rate:,.0f} msg/s = {run.rate / raw.rate:.0%} of the ceiling; "
            f"{_cpu(run)}"
        )
    console.print(
        f"  70 % of the ceiling leaves a sender {1 / (0.7 * raw.rate) * 1e6:,.0f} µs a message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
