"""Two ``campaignd serve`` processes on PostgreSQL and Redis, stalled and stopped mid-send.

- One is frozen (SIGSTOP) past its lease while it holds deliveries, then thawed: the other
  takes its deliveries over, and the thawed one sends nothing it no longer owns. Only the
  transactions that were on the wire when it froze can be duplicates.
- Pause and cancel, answered by one instance's API while both send: at most the
  transactions already on the wire go out afterwards, on either instance; nothing is sent
  without its cooldown ledger entry.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaignd.store.database import Database
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, runs
from tests.chaos.instances import REPOSITORY, Instance, duplicates_of, isolated_redis
from tests.integration.delivery_support import eventually
from tests.integration.scheduling_helpers import execute_now, make_campaign, make_organization
from tests.integration.smtp_server import Received, SmtpServer

pytestmark = pytest.mark.chaos

CONNECTIONS = 4
LEASE_SECONDS = 5
FREEZE_SECONDS = 15


def _environment(postgres_url: str, redis_url: str, smtp: SmtpServer) -> dict[str, str]:
    return {
        **os.environ,
        "CAMPAIGND_DATABASE_URL": postgres_url,
        "CAMPAIGND_REDIS_URL": isolated_redis(redis_url),
        "CAMPAIGND_EMAIL_TRANSPORT": smtp.url,
        "CAMPAIGND_SMTP_CONNECTIONS": str(CONNECTIONS),
        "CAMPAIGND_LEASE_SECONDS": str(LEASE_SECONDS),
        "CAMPAIGND_BATCH_SIZE": "100",
        "CAMPAIGND_SCHEDULER_INTERVAL": "0.5",
        "CAMPAIGND_LOCK_TTL": "3",
    }


def _owner_pattern(instance: Instance) -> str:
    return f"%:{instance.pid}:%"


async def _held_by(database: Database, instance: Instance) -> int:
    async with database.connection() as connection:
        statement = select(func.count()).where(
            deliveries.c.status == "sending",
            deliveries.c.lease_owner.like(_owner_pattern(instance)),
        )
        return int((await connection.execute(statement)).scalar_one())


async def _status(database: Database, campaign_id: int) -> str:
    async with database.connection() as connection:
        statement = select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        return str((await connection.execute(statement)).scalar_one())


async def _nothing_claimed(database: Database, campaign_id: int) -> bool:
    async with database.connection() as connection:
        statement = select(func.count()).where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.status == "sending"
        )
        return int((await connection.execute(statement)).scalar_one()) == 0


def _received_for(messages: list[Received], campaign_id: int) -> Counter[str]:
    """Messages per address of one campaign, as the SMTP server received them."""
    counts: Counter[str] = Counter()
    for message in messages:
        if str(message.parsed()["X-Campaign-Id"]) == str(campaign_id):
            counts[message.recipients[0]] += 1
    return counts


def _message_ids(messages: list[Received]) -> Counter[str]:
    return Counter(str(message.parsed()["Message-ID"]) for message in messages)


async def test_a_worker_frozen_past_its_lease_sends_nothing_it_no_longer_owns(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    audience = [f"person{number}@example.org" for number in range(2000)]
    with SmtpServer(delay=0.01) as smtp:
        environment = _environment(postgres_url, redis_url, smtp)
        database = Database(postgres_url)
        instances = [Instance(environment, tmp_path, f"instance{index}") for index in range(2)]
        try:
            organization = await make_organization(database)
            first = await make_campaign(database, organization, name="First", emails=audience)
            for instance in instances:
                instance.start()
            frozen = instances[0]
            assert await execute_now(database, first) is not None

            async def frozen_holds_leases() -> bool:
                return len(smtp.messages) >= 200 and await _held_by(database, frozen) > 0

            await eventually(frozen_holds_leases, timeout=90, what="the first to hold leases")
            frozen.freeze()
            at_freeze = len(smtp.messages)
            held_when_frozen = await _held_by(database, frozen)
            await asyncio.sleep(FREEZE_SECONDS)  # the stall itself: longer than the lease
            during_freeze = len(smtp.messages) - at_freeze
            frozen.thaw()

            async def sent() -> bool:
                return await _status(database, first) == "sent"

            await eventually(sent, timeout=120, what="the campaign to be sent")
            second = await make_campaign(database, organization, name="Second", emails=audience)
            assert await execute_now(database, second) is not None

            async def second_done() -> bool:
                return await _status(database, second) in {"sent", "failed"}

            await eventually(second_done, timeout=60, what="the second campaign to finish")
            for instance in instances:
                assert instance.stop() == 0, instance.log()

            messages = smtp.messages  # everything is out: one snapshot for every count
            received = _received_for(messages, first)
            duplicates = duplicates_of(_message_ids(messages))
            print(
                f"frozen holding {held_when_frozen} leases after {at_freeze} messages; "
                f"{during_freeze} sent by the other meanwhile; {duplicates} duplicates"
            )
            assert held_when_frozen > CONNECTIONS  # it held more than it had on the wire
            assert during_freeze > 0  # the other instance sent while the first was frozen
            assert set(received) == set(audience)  # every address mailed
            assert duplicates <= CONNECTIONS  # only what was on the wire when it froze
            assert sum(received.values()) == len(audience) + duplicates
            assert _received_for(messages, second) == Counter()  # the ledger survived the stall
            async with database.connection() as connection:
                per_campaign = dict(
                    (
                        await connection.execute(
                            select(runs.c.campaign_id, func.count()).group_by(runs.c.campaign_id)
                        )
                    ).all()
                )
            assert per_campaign == {first: 1, second: 1}
        finally:
            for instance in instances:
                if instance.process is not None and instance.process.poll() is None:
                    instance.thaw()
                instance.stop()
            await database.dispose()


def _token(environment: dict[str, str]) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "campaignd", "token", "create", "--role", "platform_admin"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return created.stdout.strip()


def _post(instance: Instance, token: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{instance.port}/api/admin/marketing/campaigns/{path}",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


async def _both_hold_leases(database: Database, instances: list[Instance]) -> bool:
    return all([await _held_by(database, instance) > 0 for instance in instances])


async def _halt_while_both_send(
    database: Database,
    smtp: SmtpServer,
    instances: list[Instance],
    through: Instance,
    token: str,
    action: str,
) -> tuple[int, int]:
    """Once both instances hold leases, ``POST .../{action}`` (``12/pause``) to one of
    them; returns the messages received when it answered, and how many came after it."""
    campaign_id = int(action.split("/")[0])
    await eventually(
        lambda: _both_hold_leases(database, instances),
        timeout=90,
        what="both instances to hold leases",
    )
    await asyncio.to_thread(_post, through, token, action)
    at_answer = len(smtp.messages)
    await eventually(
        lambda: _nothing_claimed(database, campaign_id),
        timeout=60,
        what="every claimed delivery to be recorded or handed back",
    )
    return at_answer, len(smtp.messages) - at_answer


async def test_pause_and_cancel_take_hold_at_once_on_every_instance(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    audience = [f"reader{number}@example.org" for number in range(1500)]
    bound = 2 * CONNECTIONS  # the transactions on the wire, on both instances
    with SmtpServer(delay=0.02) as smtp:
        environment = _environment(postgres_url, redis_url, smtp)
        database = Database(postgres_url)
        instances = [Instance(environment, tmp_path, f"instance{index}") for index in range(2)]
        try:
            organization = await make_organization(database)
            paused = await make_campaign(database, organization, name="Paused", emails=audience)
            for instance in instances:
                instance.start()
            token = _token(environment)
            await eventually(lambda: _healthy(instances[0]), timeout=60, what="the API to answer")
            assert await execute_now(database, paused) is not None

            at_answer, after_pause = await _halt_while_both_send(
                database, smtp, instances, instances[0], token, f"{paused}/pause"
            )
            print(f"paused after {at_answer} messages; {after_pause} more went out")
            assert at_answer < len(audience)
            assert after_pause <= bound

            await asyncio.to_thread(_post, instances[1], token, f"{paused}/resume")

            async def sent() -> bool:
                return await _status(database, paused) == "sent"

            await eventually(sent, timeout=120, what="the resumed campaign to be sent")
            assert _received_for(smtp.messages, paused) == Counter(dict.fromkeys(audience, 1))

            newcomers = [f"newcomer{number}@example.org" for number in range(1500)]
            cancelled = await make_campaign(
                database, organization, name="Cancelled", emails=newcomers
            )
            assert await execute_now(database, cancelled) is not None
            _, after_cancel = await _halt_while_both_send(
                database, smtp, instances, instances[1], token, f"{cancelled}/cancel"
            )
            mailed = set(_received_for(smtp.messages, cancelled))
            print(f"cancelled after {len(mailed)} of {len(newcomers)}; {after_cancel} after")
            assert after_cancel <= bound
            assert 0 < len(mailed) < len(newcomers)
            async with database.connection() as connection:
                held = {
                    str(email)
                    for email in (
                        await connection.execute(
                            select(cooldown_ledger.c.email).where(
                                cooldown_ledger.c.campaign_id == cancelled
                            )
                        )
                    ).scalars()
                }
            assert held == mailed  # nothing sent without its ledger entry, nothing more held

            again = await make_campaign(database, organization, name="Again", emails=newcomers)
            assert await execute_now(database, again) is not None

            async def again_sent() -> bool:
                return await _status(database, again) == "sent"

            await eventually(again_sent, timeout=120, what="the new campaign to be sent")
            assert set(_received_for(smtp.messages, again)) == set(newcomers) - mailed
            for instance in instances:
                assert instance.stop() == 0, instance.log()
        finally:
            for instance in instances:
                instance.stop()
            await database.dispose()


async def _healthy(instance: Instance) -> bool:
    def probe() -> bool:
        try:
            url = f"http://127.0.0.1:{instance.port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    return await asyncio.to_thread(probe)
