"""Three ``campaignd serve`` processes on PostgreSQL and Redis; one is SIGKILLed mid-send.

Two campaigns overlap in audience and in time. After the killed process is restarted and
everything is out, the SMTP server must have seen: every address mailed, no address
mailed for both campaigns (the cooldown), duplicates only within the bound of what was in
flight on the killed process's connections, and exactly one run per campaign.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, runs
from tests.chaos.instances import Instance, duplicates_of, isolated_redis
from tests.integration.delivery_support import eventually
from tests.integration.scheduling_helpers import make_campaign, make_organization
from tests.integration.smtp_server import SmtpServer

pytestmark = pytest.mark.chaos

CONNECTIONS = 4
FIRST = [f"person{number}@example.org" for number in range(0, 1200)]
SECOND = [f"person{number}@example.org" for number in range(600, 1800)]


async def test_a_process_killed_mid_send_loses_nothing_and_duplicates_within_bound(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    with SmtpServer(delay=0.01) as smtp:
        environment = {
            **os.environ,
            "CAMPAIGND_DATABASE_URL": postgres_url,
            "CAMPAIGND_REDIS_URL": isolated_redis(redis_url),
            "CAMPAIGND_EMAIL_TRANSPORT": smtp.url,
            "CAMPAIGND_SMTP_CONNECTIONS": str(CONNECTIONS),
            "CAMPAIGND_LEASE_SECONDS": "3",
            "CAMPAIGND_RETRY_BACKOFF": "0.5",
            "CAMPAIGND_BATCH_SIZE": "50",
            "CAMPAIGND_SCHEDULER_INTERVAL": "0.5",
            "CAMPAIGND_LOCK_TTL": "3",
        }
        database = Database(postgres_url)
        instances = [Instance(environment, tmp_path, f"instance{index}") for index in range(3)]
        try:
            organization = await make_organization(database)
            soon = utcnow() + timedelta(seconds=4)
            first = await make_campaign(
                database, organization, name="First", emails=FIRST, scheduled_for=soon
            )
            second = await make_campaign(
                database, organization, name="Second", emails=SECOND, scheduled_for=soon
            )
            for instance in instances:
                instance.start()

            await smtp.wait_for_messages(300, timeout=90)
            victim = instances[0]
            victim.kill()
            at_kill = len(smtp.messages)
            in_flight_bound = CONNECTIONS
            victim.start()

            async def both_finished() -> bool:
                async with database.connection() as connection:
                    statuses = (
                        await connection.execute(
                            select(campaigns.c.status).where(campaigns.c.id.in_([first, second]))
                        )
                    ).scalars()
                    return set(statuses) == {"sent"}

            await eventually(both_finished, timeout=150, what="both campaigns to be sent")
            for instance in instances:
                assert instance.stop() == 0, (tmp_path / f"{instance.name}-1.log").read_text()

            received: dict[str, list[str]] = defaultdict(list)
            message_ids: Counter[str] = Counter()
            for message in smtp.messages:
                parsed = message.parsed()
                received[message.recipients[0]].append(str(parsed["X-Campaign-Id"]))
                message_ids[str(parsed["Message-ID"])] += 1

            everyone = set(FIRST) | set(SECOND)
            assert at_kill < len(everyone)  # killed while there was sending to do
            print(f"killed after {at_kill} messages; {duplicates_of(message_ids)} duplicates")
            assert set(received) == everyone  # every address mailed
            assert all(len(set(ids)) == 1 for ids in received.values())  # one campaign each
            duplicates = duplicates_of(message_ids)
            assert duplicates <= in_flight_bound
            assert sum(len(ids) for ids in received.values()) == len(everyone) + duplicates

            async with database.connection() as connection:
                per_campaign = dict(
                    (
                        await connection.execute(
                            select(runs.c.campaign_id, func.count()).group_by(runs.c.campaign_id)
                        )
                    ).all()
                )
                closed = (
                    await connection.execute(
                        select(runs.c.sent, runs.c.skipped, runs.c.live).order_by(runs.c.id)
                    )
                ).all()
            assert per_campaign == {first: 1, second: 1}
            assert all(not live for _, _, live in closed)
            assert sum(sent for sent, _, _ in closed) == len(everyone)
            assert sum(skipped for _, skipped, _ in closed) == len(set(FIRST) & set(SECOND))
        finally:
            for instance in instances:
                instance.stop()
            await database.dispose()
