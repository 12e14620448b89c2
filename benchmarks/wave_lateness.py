"""Lateness per local-time wave: first message of a wave sent minus the wave's instant.

    python -m benchmarks.wave_lateness --campaigns 100

A fresh SQLite database; ``--campaigns`` local-time campaigns, each with recipients in three
zones (Asia/Tokyo, Europe/Berlin, America/New_York), their local times spread over five
minutes: fifteen instants, each the wave of a fifth of the campaigns in one zone. One
scheduler and one worker (``Scheduler.run``, ``Worker.run``, the file transport) run all the
while; the process clock (``store.columns.Clock``) jumps to three seconds before each
instant instead of waiting hours between the zones, so every wave meets a scheduler and a
worker that are asleep until it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from campaignd.delivery.transports import create_transport
from campaignd.delivery.worker import Worker
from campaignd.domain.lifecycle import Action
from campaignd.scheduling import LocalLock, Scheduler
from campaignd.settings import Settings
from campaignd.store import campaigns, organizations, recipients
from campaignd.store.columns import Clock
from campaignd.store.database import Database
from campaignd.store.due_times import waves
from campaignd.store.migrate import upgrade
from campaignd.wakeups import LocalWakeups

ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/New_York")
PER_ZONE = 10
LOCAL_DAY = datetime(2027, 1, 5, 9, 0)
SPREAD_MINUTES = 20
LEAD_SECONDS = 1.5
VERBOSE = False


async def create(database: Database, count: int) -> dict[int, datetime]:
    """The campaigns, scheduled at their first wave; returns id -> local time."""
    from campaignd.store.due_times import Timing

    local_times: dict[int, datetime] = {}
    async with database.transaction() as connection:
        organization = await organizations.create_organization(
            connection, slug="bench", name="Bench"
        )
        for number in range(count):
            campaign_id = await campaigns.create_campaign(
                connection,
                organization_id=int(organization["id"]),
                actor="bench",
                name=f"Local {number}",
                subject="Hello",
                text_body="Hi",
            )
            rows = (
                (f"c{number}-{zone}-{n}@example.org".replace("/", "-").lower(), {"timezone": zone})
                for zone in ZONES
                for n in range(PER_ZONE)
            )
            await recipients.add_recipients(connection, campaign_id, rows)
            local = LOCAL_DAY + timedelta(minutes=number % SPREAD_MINUTES)
            timing = Timing(local=local, zone="UTC", window=None)
            first = min(timing.wave(zone, datetime.now(UTC)) for zone in ZONES)
            await campaigns.transition(
                connection,
                campaign_id,
                Action.SCHEDULE,
                scheduled_for=first,
                local_time=local.strftime("%Y-%m-%dT%H:%M"),
                timezone="UTC",
            )
            local_times[campaign_id] = local
    return local_times


async def lateness_per_wave(database: Database, ids: list[int]) -> dict[tuple[int, str], float]:
    found: dict[tuple[int, str], float] = {}
    async with database.connection() as connection:
        for campaign_id in ids:
            campaign = await campaigns.get_campaign(connection, campaign_id)
            assert campaign is not None
            for wave in await waves(connection, campaign, now=datetime.now(UTC)):
                if wave.first_sent_at is not None:
                    found[(campaign_id, wave.zone)] = (wave.first_sent_at - wave.at).total_seconds()
    return found


async def measure(count: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="campaignd-waves-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, email_transport=f"file://{Path(folder) / 'out'}"
        )
        wakeups = LocalWakeups()
        try:
            local_times = await create(database, count)
            from campaignd.store.due_times import Timing

            instants = sorted(
                {
                    Timing(local=local, zone="UTC", window=None).wave(zone, datetime.now(UTC))
                    for local in set(local_times.values())
                    for zone in ZONES
                }
            )
            Clock.shift = instants[0] - timedelta(seconds=LEAD_SECONDS) - datetime.now(UTC)
            stop = asyncio.Event()
            scheduler = Scheduler(database, settings, lock=LocalLock(), wakeups=wakeups)
            worker = Worker(
                database, settings, transport=create_transport(settings), wakeups=wakeups
            )
            running = [
                asyncio.create_task(scheduler.run(stop)),
                asyncio.create_task(worker.run(stop)),
            ]
            ids = sorted(local_times)
            for index, instant in enumerate(instants):
                if index:  # jump to just before the next wave (the loops sleep until it)
                    Clock.shift = instant - timedelta(seconds=LEAD_SECONDS) - datetime.now(UTC)
                expected = sum(
                    1
                    for local in local_times.values()
                    for zone in ZONES
                    if Timing(local=local, zone="UTC", window=None).wave(zone, instant) <= instant
                )
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.25)
                    if len(await lateness_per_wave(database, ids)) >= expected:
                        break
            found = await lateness_per_wave(database, ids)
            if VERBOSE:
                for key, value in sorted(found.items(), key=lambda item: item[1]):
                    print(key, round(value, 3))
            stop.set()
            await asyncio.gather(*running)
            return list(found.values())
        finally:
            Clock.shift = timedelta(0)
            await database.dispose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=100)
    arguments = parser.parse_args()
    values = asyncio.run(measure(arguments.campaigns))
    expected = arguments.campaigns * len(ZONES)
    print(
        f"{len(values)} of {expected} waves ({arguments.campaigns} campaigns x {len(ZONES)} zones,"
        f" {PER_ZONE} recipients a wave), sqlite: p50 {statistics.median(values) * 1000:.0f} ms,"
        f" p99 {percentile(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms,"
        f" min {min(values) * 1000:.0f} ms"
    )
    if len(values) < expected:
        raise SystemExit("some waves did not go out")


if __name__ == "__main__":
    main()
