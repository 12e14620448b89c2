"""Several ``serve`` instances on PostgreSQL + Redis: does sending scale with them?

The SMTP sink (its own process; the minimal one unless ``--sink aiosmtpd``, so that it
leaves the CPU to the instances) answers each message after 50 ms, so sending is
waiting, not CPU, and two cores are enough to show scaling: one instance with 8
connections can send at most 8 / 0.05 = 160 messages/s. For 1, 4 and 8 instances, each on a
new database, one campaign (N per instance, a fifth of them in cooldown) is scheduled a few
seconds ahead, every instance is started before it is due, and the rate is timed at the
sink from the campaign's first message to its last. Then ``SEND_RATE`` is set and 4
instances send together: the rate the sink saw against the one asked for, and its slowest
and fastest whole second (the last, partial second left out).

    python -m benchmarks.instances                                  # 1, 4, 8 instances
    python -m benchmarks.instances --counts 1,4 --per-instance 1000 --send-rate 200
    python -m benchmarks.instances --sink aiosmtpd                  # a complete SMTP server
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import update

from benchmarks.common import (
    SmtpSink,
    add_postgres_option,
    postgres_database,
    required_postgres,
    seed_audience,
)
from benchmarks.memory import ServedInstance
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns

DELAY = 0.05
console = Console()


async def _scheduled(url: str, recipients: int, seconds: float) -> int:
    """A campaign of ``recipients`` due ``seconds`` from now; how many are eligible."""
    database = Database(url)
    try:
        audience = await seed_audience(database, recipients)
        async with database.transaction() as connection:
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == audience.campaign_id)
                .values(
                    status=CampaignStatus.SCHEDULED.value,
                    scheduled_for=utcnow() + timedelta(seconds=seconds),
                )
            )
    finally:
        await database.dispose()
    return audience.recipients - audience.in_cooldown


@dataclass
class Sent:
    """One campaign's sending as the sink saw it."""

    rate: float
    messages: int
    seconds: list[int] = field(default_factory=list)
    """Messages received in each whole second from the first message on."""


def send(base: str, sink: SmtpSink, *, instances: int, recipients: int, **settings: str) -> Sent:
    """The rate at the sink and its second-by-second counts, for one campaign sent by
    ``instances`` instances."""
    redis = os.environ.get("CAMPAIGND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    with postgres_database(base) as url, tempfile.TemporaryDirectory() as folder:
        eligible = asyncio.run(_scheduled(url, recipients, 15.0 + 3.0 * instances))
        sink.reset()
        served = [
            ServedInstance(Path(folder), url, email_transport=sink.url, redis_url=redis, **settings)
            for _ in range(instances)
        ]
        with ThreadPoolExecutor(instances) as pool:
            list(pool.map(lambda instance: instance.start(120.0), served))
        try:
            while sink.received == 0:
                time.sleep(0.001)
            started = time.perf_counter()
            first = sink.received
            counts = [first]
            while sink.received < eligible:
                if time.perf_counter() - started > 3600:
                    raise RuntimeError(f"delivered {sink.received:,} of {eligible:,}")
                time.sleep(max(0.0, started + len(counts) - time.perf_counter()))
                counts.append(sink.received)
            seconds = time.perf_counter() - started
        finally:
            with ThreadPoolExecutor(instances) as pool:
                list(pool.map(lambda instance: instance.stop(), served))
    per_second = [later - earlier for earlier, later in itertools.pairwise(counts)]
    return Sent((eligible - first) / seconds, eligible, per_second[:-1])


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,4,8", help="instance counts to measure")
    parser.add_argument("--per-instance", type=int, default=2_500, help="recipients each")
    parser.add_argument("--send-rate", type=float, default=300.0, help="SEND_RATE to check")
    parser.add_argument(
        "--sink",
        choices=["minimal", "aiosmtpd"],
        default="minimal",
        help="the SMTP server answering after 50 ms (default: minimal, which leaves the CPU "
        "to the instances)",
    )
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    counts = [int(value) for value in options.counts.split(",")]
    rates: dict[int, float] = {}
    with SmtpSink(kind=options.sink, delay=DELAY) as sink:
        for count in counts:
            result = send(base, sink, instances=count, recipients=options.per_instance * count)
            rates[count], sent = result.rate, result.messages
            console.print(
                f"{count} instance(s): {sent:,} messages at {rates[count]:,.0f} msg/s = "
                f"{rates[count] / rates[counts[0]]:.2f}x {counts[0]} "
                f"(load average {os.getloadavg()[0]:.1f})"
            )
        limited = send(
            base,
            sink,
            instances=4,
            recipients=max(2_000, int(options.send_rate * 20 / 0.8)),
            send_rate=str(options.send_rate),
        )
    console.print(
        f"SEND_RATE={options.send_rate:g} over 4 instances: {limited.rate:,.1f} msg/s at the "
        f"sink ({limited.messages:,} messages), {limited.rate / options.send_rate - 1:+.1%} of "
        "the rate asked"
    )
    if limited.seconds:
        console.print(
            f"  whole seconds: slowest {min(limited.seconds):,} msg, fastest "
            f"{max(limited.seconds):,} msg, median {statistics.median(limited.seconds):,.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
