"""Click tracking under load, and the per-recipient CSV export at a million rows.

    python benchmarks/tracking.py [--clients 200] [--seconds 10] [--rows 100000,1000000]
                                  [--database-url URL] [--only clicks|export]

Clicks: ``campaignd serve --role api`` (one process) answers ``GET /c/<token>`` (decrypt
the token, one INSERT, 302) to ``--clients`` concurrent keep-alive connections for
``--seconds``; a load generator in another process (raw HTTP/1.1 on asyncio, so that the
client costs little of the two cores) records each request's latency. Printed: requests
per second, p50/p99/max latency, and that every click was recorded. Tokens name 2,000
recipients and two links, so the inserts are spread as real clicks are.

Export: a campaign of N recipients (every third opened, every fifth clicked) exported with
``GET .../campaigns/{id}/report/export`` from a served instance; printed: rows per second and
the served process's peak resident set (``VmHWM``), so "streamed" shows as a peak that
stays where it is when N grows tenfold.

SQLite always (a new file each time); PostgreSQL too with ``--database-url`` or
``CAMPAIGND_TEST_DATABASE_URL`` (a new database next to it, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert

from benchmarks.common import database_url, postgres_base_url
from benchmarks.memory import ServedInstance, memory_of
from campaignd.delivery.tracking import tracking_tokens
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.store import organizations, tokens
from campaignd.store.campaigns import create_campaign
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries, tracking_events
from campaignd.store.secrets import instance_secret
from campaignd.store.tracking import save_links

PREFIX = "/api/admin/marketing"
CLICKERS = 2000
LINKS = ("https://shop.example/winter?utm_source=news", "https://blog.example/post")
BATCH = 20_000
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def seed(url: str, recipients: int, *, with_events: bool) -> tuple[int, str, list[str]]:
    """A sent campaign of ``recipients``: its id, a platform admin's token and click paths."""
    database = Database(url)
    try:
        now = utcnow()
        async with database.transaction() as connection:
            organization = await organizations.create_organization(
                connection, slug="bench", name="Bench"
            )
            _, token = await tokens.create_token(
                connection, role="platform_admin", organization_id=None, name="benchmark"
            )
            campaign_id = await create_campaign(
                connection,
                organization_id=int(organization["id"]),
                actor="benchmark",
                name="Tracked",
                subject="Hi",
                html_body="<p>Hi</p>",
                track_clicks=True,
                track_opens=True,
            )
            await connection.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(status="sent", started_at=now - timedelta(hours=1), finished_at=now)
            )
            await save_links(connection, campaign_id, LINKS)
        for start in range(0, recipients, BATCH):
            rows = [
                {
                    "campaign_id": campaign_id,
                    "email": f"reader{number:07}@example.org",
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": now,
                }
                for number in range(start, min(recipients, start + BATCH))
            ]
            async with database.transaction() as connection:
                await connection.execute(insert(deliveries), rows)
        if with_events:
            async with database.transaction() as connection:
                await connection.exec_driver_sql(
                    "INSERT INTO tracking_events (campaign_id, delivery_id, kind, occurred_at) "
                    "SELECT campaign_id, id, 'open', sent_at FROM deliveries "
                    f"WHERE id - (id / 3) * 3 = 0 AND campaign_id = {campaign_id}"
                )
                await connection.exec_driver_sql(
                    "INSERT INTO tracking_events (campaign_id, delivery_id, kind, link_index, "
                    "occurred_at) SELECT campaign_id, id, 'click', 0, sent_at FROM deliveries "
                    f"WHERE id - (id / 5) * 5 = 0 AND campaign_id = {campaign_id}"
                )
        signer = tracking_tokens(await instance_secret(database, SECRET_NAME))
        sent_at = int(time.time()) - 3600  # an hour ago: people, not prefetching scanners
        first = campaign_id  # delivery ids start at 1 in a new database
        paths = [
            f"/c/{signer.click(campaign_id, first + number, number % len(LINKS), sent_at)}"
            for number in range(min(CLICKERS, recipients))
        ]
        return campaign_id, token, paths
    finally:
        await database.dispose()


async def _client(
    port: int, paths: list[str], offset: int, deadline: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    index = offset
    try:
        while time.perf_counter() < deadline:
            path = paths[index % len(paths)]
            index += 1
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {BROWSER}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 302"):
                raise RuntimeError(head.decode(errors="replace"))
            done += 1
    finally:
        writer.close()
    return done


def _load(port: int, paths: list[str], clients: int, seconds: float, queue: object) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> tuple[list[float], float]:
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(port, paths, number * 7, deadline, latencies) for number in range(clients))
        )
        return latencies, time.perf_counter() - started

    latencies, elapsed = asyncio.run(main())
    queue.put((latencies, elapsed))  # type: ignore[attr-defined]


def count_events(url: str) -> int:
    async def work() -> int:
        database = Database(url)
        try:
            async with database.connection() as connection:
                statement = (
                    tracking_events.select()
                    .with_only_columns(tracking_events.c.id)
                    .where(tracking_events.c.kind == "click")
                )
                return len((await connection.execute(statement)).all())
        finally:
            await database.dispose()

    return asyncio.run(work())


def percentile(values: list[float], part: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * part))]


def bench_clicks(folder: Path, url: str, kind: str, clients: int, seconds: float) -> None:
    _, _, paths = asyncio.run(seed(url, CLICKERS, with_events=False))
    with ServedInstance(folder, url, role="api") as instance:
        httpx.get(instance.base_url + paths[0], headers={"User-Agent": BROWSER})  # warm up
        before = count_events(url)
        queue: multiprocessing.Queue[tuple[list[float], float]] = multiprocessing.Queue()
        load = multiprocessing.Process(
            target=_load, args=(instance.port, paths, clients, seconds, queue)
        )
        load.start()
        latencies, elapsed = queue.get()
        load.join()
        recorded = count_events(url) - before
        peak = memory_of(instance.pid)[1]
    milliseconds = [value * 1000 for value in latencies]
    print(
        f"clicks   {kind:<10} {clients} clients {elapsed:5.1f} s  "
        f"{len(latencies) / elapsed:7,.0f} redirects/s  "
        f"p50 {statistics.median(milliseconds):6.1f} ms  "
        f"p99 {percentile(milliseconds, 0.99):6.1f} ms  max {max(milliseconds):6.1f} ms  "
        f"recorded {recorded:,}/{len(latencies):,}  server peak {peak:.0f} MB",
        flush=True,
    )


def bench_export(folder: Path, url: str, kind: str, rows: int) -> None:
    campaign_id, token, _ = asyncio.run(seed(url, rows, with_events=True))
    headers = {"Authorization": f"Bearer {token}"}
    with ServedInstance(folder, url, role="api") as instance:
        start = memory_of(instance.pid)[0]
        target = f"{instance.base_url}{PREFIX}/campaigns/{campaign_id}/report/export"
        lines = size = 0
        started = time.perf_counter()
        with httpx.stream("GET", target, headers=headers, timeout=3600) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
        seconds = time.perf_counter() - started
        peak = memory_of(instance.pid)[1]
    print(
        f"export   {kind:<10} {lines - 1:>9,} rows {seconds:6.1f} s "
        f"{(lines - 1) / seconds:>9,.0f} rows/s  {size / 1e6:5.0f} MB of CSV  "
        f"server peak {peak:.0f} MB (at start {start:.0f} MB)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL")
    parser.add_argument("--only", choices=("clicks", "export"), default=None)
    parser.add_argument("--skip-postgres", action="store_true")
    options = parser.parse_args()
    postgres = None if options.skip_postgres else postgres_base_url(options.database_url)
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    with tempfile.TemporaryDirectory(prefix="campaignd-tracking-") as directory:
        folder = Path(directory)
        for kind in kinds:
            if options.only in (None, "clicks"):
                with database_url(kind, folder, postgres) as url:
                    bench_clicks(folder, url, kind, options.clients, options.seconds)
            if options.only in (None, "export"):
                for rows in (int(value) for value in options.rows.split(",")):
                    with database_url(kind, folder, postgres) as url:
                        bench_export(folder, url, kind, rows)


if __name__ == "__main__":
    main()
