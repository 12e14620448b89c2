"""Click tracking under load, and the per-recipient CSV export at a million rows.

    python benchmarks/tracking.py [--rate 500] [--connections 200] [--clients 200]
                                  [--seconds 10] [--rows 100000,1000000]
                                  [--database-url URL] [--only clicks|export]
                                  [--profile DIR]

Clicks: ``campaignd serve --role api`` (one process) answers ``GET /c/<token>`` (open the
token, one INSERT, 302); a load generator in another process (raw HTTP/1.1 on asyncio, so
that the client costs little of the two cores) records each request's latency. Tokens name
2,000 recipients and two links, so the inserts are spread as real clicks are. Two loads,
one after the other, against the same process:

- open loop (the latency figure): clicks arrive at ``--rate`` per second (Poisson
  arrivals, whatever the answers do), each sent on one of ``--connections`` keep-alive
  connections that is free (a click finding none free waits for one, and the wait counts).
  A click's latency runs from the moment it was due to its answer, so a server that falls
  behind shows as latency (no coordinated omission). After ``--warmup`` seconds not
  counted, ``--seconds`` are measured. Printed: the rate offered and answered, p50/p99/max.
- closed loop (the saturation figure): ``--clients`` connections each send the next click
  as soon as the last is answered, for ``--seconds``. Printed: redirects per second (what
  the process can do at most) and p50/p99/max, which here are queueing: with every client
  waiting, latency is about clients / throughput.

Both check that every click answered was recorded (the server answers a click once it is
queued and writes it a few milliseconds later: the check reads until all rows are there,
for up to 10 s). ``--rate 0`` or ``--clients 0`` skips a load. ``--profile DIR`` records
the served process with py-spy during the open loop (raw collapsed stacks,
``DIR/clicks-<database>.txt``, for speedscope or flamegraph.pl).

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
import gc
import multiprocessing
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> None:
    """One click on a keep-alive connection: the request, then the whole answer (a 302)."""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {BROWSER}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 302"):
        raise RuntimeError(head.decode(errors="replace"))


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
            started = time.perf_counter()
            await _exchange(reader, writer, path)
            latencies.append(time.perf_counter() - started)
            done += 1
    finally:
        writer.close()
    return done


def _prepare_load() -> None:
    """uvloop where installed, and the imports kept out of the garbage collector's sight:
    a full collection of this process (it imports campaignd) pauses it for hundreds of
    milliseconds, which would show as the server's latency."""
    gc.collect()
    gc.freeze()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def _load(port: int, paths: list[str], clients: int, seconds: float, queue: object) -> None:
    """Closed loop: ``clients`` connections, each clicking again as soon as answered."""
    _prepare_load()

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


async def _open_loop(
    port: int, paths: list[str], connections: int, rate: float, seconds: float, seed: int
) -> tuple[list[float], float, int, int]:
    """Clicks due at Poisson arrivals of ``rate`` per second for ``seconds``, each on a free
    connection of ``connections``: (latencies from when each was due, seconds, clicks
    answered, clicks that found no free connection)."""
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    waited = 0

    async def click(due: float, path: str) -> None:
        nonlocal waited
        if free.empty():
            waited += 1
        reader, writer = await free.get()
        try:
            await _exchange(reader, writer, path)
        finally:
            free.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - due)

    arrivals = random.Random(seed)
    pending: list[asyncio.Future[None]] = []
    started = time.perf_counter()
    end = started + seconds
    due = started
    while True:
        due += arrivals.expovariate(rate)
        if due >= end:
            break
        ahead = due - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
        pending.append(asyncio.ensure_future(click(due, paths[len(pending) % len(paths)])))
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    while not free.empty():
        free.get_nowait()[1].close()
    return latencies, elapsed, len(pending), waited


def _open_load(
    port: int,
    paths: list[str],
    connections: int,
    rate: float,
    seconds: float,
    warmup: float,
    queue: object,
) -> None:
    """Open loop, after ``warmup`` seconds of the same load not counted."""
    _prepare_load()

    async def main() -> tuple[list[float], float, int, int, int]:
        answered = 0
        if warmup > 0:
            answered += (await _open_loop(port, paths, connections, rate, warmup, seed=1))[2]
        latencies, elapsed, count, waited = await _open_loop(
            port, paths, connections, rate, seconds, seed=2
        )
        return latencies, elapsed, count, waited, answered + count

    queue.put(asyncio.run(main()))  # type: ignore[attr-defined]


def _profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording ``pid`` for ``seconds`` (without pausing it), or None without it."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("profile: py-spy not found (pip install py-spy); not profiled", flush=True)
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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


def recorded_since(url: str, before: int, answered: int, *, patience: float = 10.0) -> int:
    """Clicks recorded since there were ``before``: read until all ``answered`` are there
    (the server answers before it commits: a few milliseconds) or ``patience`` runs out."""
    deadline = time.monotonic() + patience
    while True:
        recorded = count_events(url) - before
        if recorded >= answered or time.monotonic() > deadline:
            return recorded
        time.sleep(0.05)


def percentile(values: list[float], part: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * part))]


@dataclass(frozen=True)
class ClickLoad:
    rate: float
    connections: int
    clients: int
    seconds: float
    warmup: float
    profile: Path | None


def _figures(latencies: list[float]) -> str:
    milliseconds = [value * 1000 for value in latencies] or [0.0]
    return (
        f"p50 {statistics.median(milliseconds):6.1f} ms  "
        f"p99 {percentile(milliseconds, 0.99):6.1f} ms  max {max(milliseconds):6.1f} ms"
    )


def _open_phase(
    instance: ServedInstance, url: str, kind: str, paths: list[str], load: ClickLoad
) -> None:
    before = count_events(url)
    queue: multiprocessing.Queue[tuple[list[float], float, int, int, int]] = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_open_load,
        args=(
            instance.port,
            paths,
            load.connections,
            load.rate,
            load.seconds,
            load.warmup,
            queue,
        ),
    )
    process.start()
    spy = None
    if load.profile is not None:
        time.sleep(load.warmup)
        spy = _profiler(instance.pid, load.seconds, load.profile / f"clicks-{kind}.txt")
    latencies, elapsed, count, waited, answered = queue.get()
    process.join()
    if spy is not None:
        spy.wait()
    recorded = recorded_since(url, before, answered)
    print(
        f"clicks   {kind:<10} open loop   {load.rate:6,.0f}/s offered {count / elapsed:6,.0f}/s "
        f"answered  {load.connections} connections {elapsed:5.1f} s  {_figures(latencies)}  "
        f"no free connection {waited:,}  recorded {recorded:,}/{answered:,}",
        flush=True,
    )


def _closed_phase(
    instance: ServedInstance, url: str, kind: str, paths: list[str], load: ClickLoad
) -> None:
    before = count_events(url)
    queue: multiprocessing.Queue[tuple[list[float], float]] = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_load, args=(instance.port, paths, load.clients, load.seconds, queue)
    )
    process.start()
    latencies, elapsed = queue.get()
    process.join()
    recorded = recorded_since(url, before, len(latencies))
    print(
        f"clicks   {kind:<10} closed loop {load.clients} clients {elapsed:5.1f} s  "
        f"{len(latencies) / elapsed:7,.0f} redirects/s  {_figures(latencies)}  "
        f"recorded {recorded:,}/{len(latencies):,}",
        flush=True,
    )


def bench_clicks(folder: Path, url: str, kind: str, load: ClickLoad) -> None:
    _, _, paths = asyncio.run(seed(url, CLICKERS, with_events=False))
    with ServedInstance(folder, url, role="api") as instance:
        httpx.get(instance.base_url + paths[0], headers={"User-Agent": BROWSER})  # warm up
        recorded_since(url, 0, 1)
        if load.rate > 0:
            _open_phase(instance, url, kind, paths, load)
        if load.clients > 0:
            _closed_phase(instance, url, kind, paths, load)
        peak = memory_of(instance.pid)[1]
    print(f"clicks   {kind:<10} server peak {peak:.0f} MB", flush=True)


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
    parser.add_argument(
        "--rate", type=float, default=500.0, help="open loop: clicks per second (0: skip)"
    )
    parser.add_argument(
        "--connections", type=int, default=200, help="open loop: keep-alive connections"
    )
    parser.add_argument(
        "--clients", type=int, default=200, help="closed loop: connections (0: skip)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per load")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="open loop: seconds before measuring"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the open loop into this folder"
    )
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL")
    parser.add_argument("--only", choices=("clicks", "export"), default=None)
    parser.add_argument("--skip-postgres", action="store_true")
    options = parser.parse_args()
    postgres = None if options.skip_postgres else postgres_base_url(options.database_url)
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    load = ClickLoad(
        rate=options.rate,
        connections=options.connections,
        clients=options.clients,
        seconds=options.seconds,
        warmup=options.warmup,
        profile=options.profile.resolve() if options.profile else None,
    )
    with tempfile.TemporaryDirectory(prefix="campaignd-tracking-") as directory:
        folder = Path(directory)
        for kind in kinds:
            if options.only in (None, "clicks"):
                with database_url(kind, folder, postgres) as url:
                    bench_clicks(folder, url, kind, load)
            if options.only in (None, "export"):
                for rows in (int(value) for value in options.rows.split(",")):
                    with database_url(kind, folder, postgres) as url:
                        bench_export(folder, url, kind, rows)


if __name__ == "__main__":
    main()
