"""The worker as a whole: files, graceful stop, leases, workers side by side, send rate."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from redis.asyncio import Redis

from campaignd.delivery.rate import LocalRateLimiter, RedisRateLimiter, create_rate_limiter
from campaignd.delivery.transports import FileTransport, create_transport
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.secrets import installation_id
from tests.integration.delivery_support import (
    campaign_of,
    deliveries_of,
    eventually,
    latest_run,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.smtp_server import SmtpServer


def outbox_of(settings: Settings) -> Path:
    transport = create_transport(settings)
    assert isinstance(transport, FileTransport)
    return transport.directory


async def test_the_file_transport_writes_one_eml_per_message_id(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        [("ada@example.org", {"name": "Ada"}), "bob@example.org"],
        organization_id=organization_id,
    )
    await worker(database, settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    outbox = outbox_of(settings)
    names = sorted(path.name for path in outbox.iterdir())
    installation = await installation_id(database)
    expected = sorted(
        f"{campaign_id}.{row['id']}.{installation}@localhost.eml" for row in rows.values()
    )
    assert names == expected  # nothing else: no temporary files left behind
    import email
    import email.policy

    ada = rows["ada@example.org"]
    data = (outbox / f"{campaign_id}.{ada['id']}.{installation}@localhost.eml").read_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Hello Ada"
    assert ada["status"] == "sent" and "written to" in ada["server_reply"]
    assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_a_failed_write_leaves_no_partial_file(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, settings, ["ada@example.org"], organization_id=organization_id
    )
    configured = settings.model_copy(update={"max_attempts": 1})

    def broken_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("campaignd.delivery.transports.os.replace", broken_replace)
    await worker(database, configured).run_burst()
    assert list(outbox_of(settings).iterdir()) == []
    row = (await deliveries_of(database, campaign_id))["ada@example.org"]
    assert row["status"] == "failed" and "disk full" in row["last_error"]


async def test_a_graceful_stop_finishes_in_flight_releases_the_rest_and_duplicates_nothing(
    database: Database, settings: Settings
) -> None:
    recipients = [f"user{index}@example.org" for index in range(120)]
    with SmtpServer(delay=0.02) as smtp:
        configured = settings.model_copy(
            update={"email_transport": smtp.url, "smtp_connections": 4}
        )
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, configured, recipients, organization_id=organization_id
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker(database, configured).run(stop))
        await smtp.wait_for_messages(20)
        stop.set()
        await asyncio.wait_for(running, timeout=20)

        rows = await deliveries_of(database, campaign_id)
        statuses = Counter(row["status"] for row in rows.values())
        assert set(statuses) == {"sent", "queued"}
        assert statuses["sent"] == len(smtp.messages)  # every message sent was recorded
        assert all(row["lease_owner"] is None for row in rows.values())
        assert all(
            row["attempts"] == (1 if row["status"] == "sent" else 0) for row in rows.values()
        )
        assert (await campaign_of(database, campaign_id))["status"] == "sending"

        await worker(database, configured).run_burst()
        delivered = Counter(message.recipients[0] for message in smtp.messages)
        assert sorted(delivered) == sorted(recipients)
        assert set(delivered.values()) == {1}
        assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_expired_leases_of_a_silent_worker_are_sent_again(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        ["ada@example.org", "bob@example.org"],
        organization_id=organization_id,
    )
    async with database.transaction() as connection:
        claimed = await queue.claim_batch(
            connection,
            campaign_id,
            owner="a-worker-that-died",
            limit=10,
            now=utcnow(),
            lease_seconds=-60,  # ran out a minute ago
        )
    assert len(claimed) == 2
    await worker(database, settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert len(list(outbox_of(settings).iterdir())) == 2
    run = await latest_run(database, campaign_id)
    assert (run["status"], run["sent"]) == ("sent", 2)


async def test_workers_side_by_side_send_each_address_once(
    database: Database, settings: Settings
) -> None:
    recipients = [f"user{index}@example.org" for index in range(300)]
    with SmtpServer() as smtp:
        configured = settings.model_copy(
            update={"email_transport": smtp.url, "smtp_connections": 4, "batch_size": 20}
        )
        organization_id = await organization(database)
        first = await sending_campaign(
            database, configured, recipients[:150], organization_id=organization_id
        )
        second = await sending_campaign(
            database, configured, recipients[150:], organization_id=organization_id, name="B"
        )
        await asyncio.gather(*(worker(database, configured).run_burst() for _ in range(3)))
        delivered = Counter(message.recipients[0] for message in smtp.messages)
        assert sorted(delivered) == sorted(recipients)
        assert set(delivered.values()) == {1}
        for campaign_id in (first, second):
            assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_a_paused_campaign_is_not_sent_and_resumes_where_it_stopped(
    database: Database, settings: Settings
) -> None:
    from campaignd.domain.lifecycle import Action
    from campaignd.store.campaigns import transition

    organization_id = await organization(database)
    recipients = [f"user{index}@example.org" for index in range(10)]
    campaign_id = await sending_campaign(
        database, settings, recipients, organization_id=organization_id
    )
    async with database.transaction() as connection:
        assert await transition(connection, campaign_id, Action.PAUSE) is not None
    await worker(database, settings).run_burst()
    assert not outbox_of(settings).exists() or not list(outbox_of(settings).iterdir())
    async with database.transaction() as connection:
        assert await transition(connection, campaign_id, Action.RESUME) is not None
    await worker(database, settings).run_burst()
    assert len(list(outbox_of(settings).iterdir())) == 10
    assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_the_local_send_rate_spaces_messages() -> None:
    limiter = LocalRateLimiter(100.0)
    started = time.perf_counter()
    await asyncio.gather(*(limiter.acquire() for _ in range(31)))
    assert time.perf_counter() - started >= 0.25  # 30 intervals of 10 ms, less the burst


async def test_the_redis_send_rate_is_shared_by_every_limiter(redis_url: str) -> None:
    key = f"campaignd-test:rate:{uuid.uuid4().hex}"
    limiters = [RedisRateLimiter(Redis.from_url(redis_url), 100.0, key=key) for _ in range(3)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(limiter.acquire() for limiter in limiters for _ in range(14)))
        elapsed = time.perf_counter() - started
        assert elapsed >= 0.35  # 42 slots at 100/s across three limiters, less the burst
    finally:
        for limiter in limiters:
            await limiter.close()


def test_the_rate_limiter_follows_the_settings(settings: Settings) -> None:
    assert create_rate_limiter(settings) is None
    local = create_rate_limiter(settings.model_copy(update={"send_rate": 5.0}))
    assert isinstance(local, LocalRateLimiter)
    shared = create_rate_limiter(
        settings.model_copy(update={"send_rate": 5.0, "redis_url": "redis://127.0.0.1:1/0"})
    )
    assert isinstance(shared, RedisRateLimiter)


async def test_the_worker_keeps_to_the_send_rate(database: Database, settings: Settings) -> None:
    configured = settings.model_copy(update={"send_rate": 40.0})
    organization_id = await organization(database)
    recipients = [f"user{index}@example.org" for index in range(12)]
    await sending_campaign(database, configured, recipients, organization_id=organization_id)
    started = time.perf_counter()
    await worker(database, configured, rate_limiter=create_rate_limiter(configured)).run_burst()
    assert time.perf_counter() - started >= 0.2
    assert len(list(outbox_of(settings).iterdir())) == 12


async def test_a_stopped_worker_wakes_and_sends_new_work(
    database: Database, settings: Settings
) -> None:
    from campaignd.delivery.transports import create_transport as make
    from campaignd.delivery.worker import Worker
    from campaignd.wakeups import LocalWakeups

    wakeups = LocalWakeups()
    running_worker = Worker(database, settings, transport=make(settings), wakeups=wakeups)
    stop = asyncio.Event()
    running = asyncio.create_task(running_worker.run(stop))
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, settings, ["ada@example.org"], organization_id=organization_id
    )
    await wakeups.notify("workers")

    async def sent() -> bool:
        return (await campaign_of(database, campaign_id))["status"] == "sent"

    await eventually(sent, what="the campaign to be sent")
    stop.set()
    await asyncio.wait_for(running, timeout=10)


async def test_a_recipient_whose_render_goes_over_the_limits_fails_alone(
    database: Database, settings: Settings
) -> None:
    """Rendering is bounded at send time: the recipient whose own values make the loop too
    long fails with the limit named; the others are sent."""
    limited = settings.model_copy(update={"template_max_iterations": 1000})
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        limited,
        [
            ("few@example.org", {"items": list(range(3))}),
            ("many@example.org", {"items": list(range(5000))}),
        ],
        organization_id=organization_id,
        html_body=None,
        text_body="{% for item in items %}{{ item }} {% endfor %}",
    )
    await worker(database, limited).run_burst()
    rows = await deliveries_of(database, campaign_id)
    assert rows["few@example.org"]["status"] == "sent"
    assert rows["many@example.org"]["status"] == "failed"
    assert "1000" in str(rows["many@example.org"]["last_error"])
    assert len(list(outbox_of(settings).iterdir())) == 1


async def test_a_render_too_slow_for_the_event_loop_is_finished_in_the_render_thread(
    database: Database, settings: Settings
) -> None:
    """A render that needs more than the inline deadline (a few ms) but stays within the
    limits is sent all the same: it is rendered again in the render thread."""
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        [
            ("long@example.org", {"items": list(range(60_000))}),
            ("short@example.org", {"items": [1]}),
        ],
        organization_id=organization_id,
        html_body=None,
        text_body="{% for item in items %}.{% endfor %}",
    )
    await worker(database, settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    assert {row["status"] for row in rows.values()} == {"sent"}, rows
    written = [path.read_bytes() for path in outbox_of(settings).iterdir()]
    assert any(b"." * 1000 in data.replace(b"=\r\n", b"") for data in written)
