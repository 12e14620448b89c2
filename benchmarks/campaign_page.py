"""``GET /campaigns/{id}`` of a large campaign while it sends: latency under load.

A campaign of N recipients is fanned out on a new PostgreSQL database, then one
``campaignd serve`` process sends it to an SMTP sink that answers each message after 50 ms
(so the campaign keeps sending for the whole measurement) while C clients ask for the
campaign over HTTP as fast as they can. Beside it, in the same run: the time of one exact
count of the campaign's deliveries per status (what every request cost before counts were
kept between requests, ``actions/campaign_counts.py``).

    python -m benchmarks.campaign_page                      # 1,000,000 recipients
    python -m benchmarks.campaign_page --recipients 10000000 --clients 8 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console

from benchmarks.common import (
    COOLDOWN_DAYS,
    SmtpSink,
    add_postgres_option,
    analyse,
    postgres_database,
    required_postgres,
    seed_audience,
    start_manually,
)
from benchmarks.memory import ServedInstance, memory_of
from campaignd.store.campaigns import delivery_counts
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.tokens import create_token

API = "/api/admin/marketing"
console = Console()


async def prepare(url: str, recipients: int) -> tuple[int, int, str, list[float]]:
    """A fanned-out sending campaign, a small draft beside it (the baseline), a platform
    token, and the times of exact counts of the large one."""
    database = Database(url)
    try:
        audience = await seed_audience(database, recipients)
        small = await seed_audience(
            database, 10, first=recipients + 1, organization_id=audience.organization_id
        )
        await analyse(database)
        await start_manually(database, audience.campaign_id)
        async with database.transaction() as connection:
            await fan_out(
                connection,
                audience.campaign_id,
                rules=CooldownRules(days=COOLDOWN_DAYS, scope="global"),
                now=utcnow() + timedelta(seconds=1),
            )
            _, token = await create_token(
                connection, role="platform_admin", organization_id=None, name="benchmark"
            )
        await analyse(database)
        exact: list[float] = []
        for _ in range(3):
            started = time.perf_counter()
            async with database.connection() as connection:
                await delivery_counts(connection, [audience.campaign_id])
            exact.append(time.perf_counter() - started)
    finally:
        await database.dispose()
    return audience.campaign_id, small.campaign_id, token, exact


async def hammer(
    base_url: str, token: str, campaign_id: int, *, clients: int, seconds: float
) -> tuple[list[float], set[str]]:
    """Latencies of GET /campaigns/{id} from ``clients`` concurrent clients."""
    latencies: list[float] = []
    statuses: set[str] = set()
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = await http.get(f"{API}/campaigns/{campaign_id}")
                latencies.append(time.perf_counter() - started)
                answer.raise_for_status()
                statuses.add(str(answer.json()["status"]))

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    redis = os.environ.get("CAMPAIGND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    with (
        postgres_database(base) as url,
        tempfile.TemporaryDirectory() as directory,
        SmtpSink(delay=0.05) as sink,
    ):
        campaign_id, small_id, token, exact = asyncio.run(prepare(url, options.recipients))
        with ServedInstance(
            Path(directory), url, email_transport=sink.url, redis_url=redis
        ) as instance:
            latencies, statuses = asyncio.run(
                hammer(
                    instance.base_url,
                    token,
                    campaign_id,
                    clients=options.clients,
                    seconds=options.seconds,
                )
            )
            small, _ = asyncio.run(
                hammer(
                    instance.base_url,
                    token,
                    small_id,
                    clients=options.clients,
                    seconds=options.seconds,
                )
            )
            _, peak = memory_of(instance.pid)
        sent = sink.received
    console.print(
        f"PostgreSQL, {options.recipients:,} recipients, campaign {sorted(statuses)} "
        f"({sent:,} sent meanwhile), {options.clients} clients for {options.seconds:.0f} s:"
    )
    console.print(
        f"  GET /campaigns/{{id}}: {len(latencies):,} requests, "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms; serve peak RSS {peak:.0f} MB"
    )
    console.print(
        f"  the same for a 10-recipient draft, same server, right after (the baseline): "
        f"{len(small):,} requests, p50 {percentile(small, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(small, 0.99) * 1000:.1f} ms"
    )
    console.print(
        f"  one exact count of the campaign's deliveries (the cost per request before): "
        f"median {statistics.median(exact) * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
