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
    """A message of the size and shape campaignd sends (headers, text and HTML parts)."""
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
    body = (
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT_BODY}\r\n"
        f"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HTML_BODY}\r\n--b--\r\n"
    )
    return (headers + body).encode()


async def ceiling(port: int, messages: int, connections: int) -> float:
    """Messages/s of prebuilt bytes over ``connections`` persistent connections."""
    message = prebuilt_message()
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    remaining = messages

    async def send(client: aiosmtplib.SMTP) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.sendmail("bounce@shop.example.org", ["person@example.org"], message)

    started = time.perf_counter()
    await asyncio.gather(*(send(client) for client in clients))
    seconds = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return messages / seconds


async def transport_ceiling(port: int, messages: int, connections: int, pipelining: bool) -> float:
    """Messages/s of prebuilt bytes through campaignd's ``SmtpTransport`` (connections
    opened before the clock starts), with or without pipelining."""
    target = SmtpTarget.from_url(f"smtp://127.0.0.1:{port}")
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

    started = time.perf_counter()
    await asyncio.gather(*(send() for _ in range(connections)))
    seconds = time.perf_counter() - started
    await transport.close()
    return messages / seconds


async def _queued(url: str, messages: int) -> None:
    database = Database(url)
    try:
        await seed_queued(database, messages)
    finally:
        await database.dispose()


def served(directory: Path, url: str, sink: SmtpSink, messages: int, **settings: str) -> float:
    """Messages/s of ``serve`` from the sink's first message of the campaign to its last."""
    asyncio.run(_queued(url, messages))
    sink.reset()
    with ServedInstance(
        directory, url, email_transport=sink.url, smtp_connections=str(CONNECTIONS), **settings
    ):
        while sink.received == 0:
            time.sleep(0.001)
        started = time.perf_counter()
        first = sink.received
        if not sink.wait_for(messages, timeout=3600):
            raise RuntimeError(f"serve delivered {sink.received:,} of {messages:,}")
        seconds = time.perf_counter() - started
    return (messages - first) / seconds


def pipelining(messages: int, postgres: str | None, redis: str, rounds: int) -> None:
    """The ``--pipelining`` comparison (see the module docstring), printed as it goes."""
    with SmtpSink(kind="minimal", pipelining=True) as sink, tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        console.print(
            f"{messages:,} messages, {CONNECTIONS} connections, minimal SMTP sink offering "
            "PIPELINING"
        )
        kinds: list[tuple[str, str, dict[str, str]]] = [("SQLite", "sqlite", {})]
        if postgres is not None:
            kinds.append(("PostgreSQL + Redis", "postgresql", {"redis_url": redis}))
        for round_number in range(1, rounds + 1):
            console.print(f"round {round_number}")
            one_by_one = asyncio.run(transport_ceiling(sink.port, messages, CONNECTIONS, False))
            pipelined = asyncio.run(transport_ceiling(sink.port, messages, CONNECTIONS, True))
            console.print(
                f"  transport, prebuilt bytes: one by one {one_by_one:,.0f} msg/s, pipelined "
                f"{pipelined:,.0f} msg/s = {pipelined / one_by_one:.2f}x"
            )
            for name, kind, settings in kinds:
                rates: dict[str, float] = {}
                order = ("off", "auto") if round_number % 2 else ("auto", "off")
                for mode in order:
                    with database_url(kind, directory, postgres) as url:
                        rates[mode] = served(
                            directory, url, sink, messages, smtp_pipelining=mode, **settings
                        )
                console.print(
                    f"  serve, {name}: SMTP_PIPELINING=off {rates['off']:,.0f} msg/s, auto "
                    f"{rates['auto']:,.0f} msg/s = {rates['auto'] / rates['off']:.2f}x"
                )
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
    results: list[tuple[str, float]] = []
    with SmtpSink(kind="minimal") as sink, tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        raw = asyncio.run(ceiling(sink.port, options.messages, CONNECTIONS))
        with database_url("sqlite", directory, None) as url:
            results.append(("serve, SQLite", served(directory, url, sink, options.messages)))
        if postgres is not None:
            with database_url("postgresql", directory, postgres) as url:
                results.append(
                    (
                        "serve, PostgreSQL + Redis",
                        served(directory, url, sink, options.messages, redis_url=redis),
                    )
                )
    console.print(
        f"{options.messages:,} messages, {CONNECTIONS} connections, minimal SMTP sink; "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    console.print(f"  ceiling (prebuilt bytes, no database): {raw:,.0f} msg/s")
    for name, rate in results:
        console.print(f"  {name}: {rate:,.0f} msg/s = {rate / raw:.0%} of the ceiling")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
