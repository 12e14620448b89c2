"""The webhook dispatcher against real HTTP receivers on loopback: signed deliveries, a
failing endpoint retried then disabled (with a clock moved forward), a slow endpoint that
holds nobody else up, a dispatcher killed mid-POST, and the address guard."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from campaignd.delivery.webhooks import DISABLE_AFTER
from campaignd.domain.webhooks import RETRY_DELAYS
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.delivery_support import eventually, organization
from tests.integration.webhook_support import (
    Clock,
    add_endpoint,
    dispatcher,
    endpoint_row,
    messages,
    receivers,
    record,
    verified,
    webhook_settings,
)


async def test_a_delivery_is_signed_the_standard_webhooks_way(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        created = await add_endpoint(database, settings, receiver.url)
        assert created.secret.startswith("whsec_")
        assert await record(database, acme, "unsubscribed", email="ada@example.com") == 1
        await dispatcher(database, settings, Clock()).run_burst()

        [request] = receiver.requests
        assert verified(created.secret, request.headers, request.body)
        assert not verified("whsec_" + "A" * 44, request.headers, request.body)
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["content-type"] == "application/json"
        document = json.loads(request.body)
        assert document["type"] == "unsubscribed"
        assert document["data"] == {"email": "ada@example.com"}
        assert document["timestamp"].endswith("Z")
        [message] = await messages(database)
        assert (message["status"], message["attempts"], message["last_status_code"]) == (
            "delivered",
            1,
            200,
        )
        assert message["message_id"] == request.headers["webhook-id"]


async def test_only_subscribed_types_of_the_organization_are_recorded(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    globex = await organization(database, "globex")
    async with receivers(2) as [acme_receiver, globex_receiver]:
        await add_endpoint(database, settings, acme_receiver.url, event_types=["clicked"])
        await add_endpoint(
            database, settings, globex_receiver.url, organization="globex", event_types=["sent"]
        )
        assert await record(database, acme, "sent", email="a@x.org") == 0
        assert await record(database, acme, "clicked", email="a@x.org") == 1
        assert await record(database, globex, "clicked", email="b@x.org") == 0
        await dispatcher(database, settings, Clock()).run_burst()
        assert [json.loads(item.body)["type"] for item in acme_receiver.requests] == ["clicked"]
        assert globex_receiver.requests == []


async def test_an_event_rolled_back_with_its_change_is_never_sent(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        await add_endpoint(database, settings, receiver.url)

        class Crash(Exception):
            pass

        from campaignd.store.outbox import record_event

        try:
            async with database.transaction() as connection:
                await record_event(connection, acme, "clicked", {"link": 1})
                raise Crash
        except Crash:
            pass
        assert await messages(database) == []
        await record(database, acme, "clicked", link=2)
        await dispatcher(database, settings, Clock()).run_burst()
        assert [json.loads(item.body)["data"] for item in receiver.requests] == [{"link": 2}]


async def test_a_failing_endpoint_is_retried_for_a_day_then_disabled(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    clock = Clock()
    async with receivers(2) as [failing, healthy]:
        failing.status = 500
        bad = await add_endpoint(database, settings, failing.url)
        good = await add_endpoint(database, settings, healthy.url)
        await record(database, acme, "clicked", link=1)
        worker = dispatcher(database, settings, clock)
        await worker.run_burst()
        assert len(failing.requests) == 1 and len(healthy.requests) == 1
        [failed_message, _] = await messages(database)
        assert failed_message["status"] == "pending"
        assert failed_message["next_attempt_at"] - clock() > RETRY_DELAYS[0] - timedelta(seconds=1)
        await worker.run_burst()
        assert len(failing.requests) == 1, "no retry before its time"

        for attempt in range(2, len(RETRY_DELAYS) + 2):
            [message, _] = await messages(database)
            assert message["status"] == "pending", f"given up early, before attempt {attempt}"
            clock.to(message["next_attempt_at"])
            await worker.run_burst()
            assert len(failing.requests) == attempt
        [message, delivered] = await messages(database)
        assert message["status"] == "failed"
        assert delivered["status"] == "delivered"
        assert message["attempts"] == len(RETRY_DELAYS) + 1
        assert clock.offset > DISABLE_AFTER - timedelta(minutes=1) > timedelta(hours=23)
        assert len({request.headers["webhook-id"] for request in failing.requests}) == 1
        assert len({request.body for request in failing.requests}) == 1

        endpoint = await endpoint_row(database, bad.view.endpoint.id)
        assert endpoint["enabled"] is False or endpoint["enabled"] == 0
        assert "HTTP 500" in endpoint["disabled_reason"]
        assert "no attempt succeeded" in endpoint["disabled_reason"]
        assert (await endpoint_row(database, good.view.endpoint.id))["enabled"]

        await record(database, acme, "clicked", link=2)
        await worker.run_burst()
        assert len(failing.requests) == len(RETRY_DELAYS) + 1, "a disabled endpoint gets nothing"
        assert len(healthy.requests) == 2


async def test_an_endpoint_that_answers_gone_is_disabled_at_once(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        receiver.status = 410
        created = await add_endpoint(database, settings, receiver.url)
        await record(database, acme, "clicked", link=1)
        await dispatcher(database, settings, Clock()).run_burst()
        endpoint = await endpoint_row(database, created.view.endpoint.id)
        assert not endpoint["enabled"]
        assert "410" in endpoint["disabled_reason"]
        [message] = await messages(database)
        assert message["status"] == "failed"


async def test_a_slow_endpoint_does_not_hold_up_the_others(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings, webhook_timeout=30.0, webhook_endpoint_concurrency=2)
    acme = await organization(database, "acme")
    async with receivers(2) as [slow, fast]:
        slow.slow = True
        await add_endpoint(database, settings, slow.url)
        await add_endpoint(database, settings, fast.url)
        for link in range(20):
            await record(database, acme, "clicked", link=link)
        stop = asyncio.Event()
        running = asyncio.create_task(
            dispatcher(
                database, settings.model_copy(update={"webhook_poll_interval": 0.05}), Clock()
            ).run(stop)
        )
        try:

            async def fast_done() -> bool:
                return fast.answered == 20

            await eventually(fast_done, what="every event at the fast endpoint")
            assert slow.answered == 0
            assert len(slow.requests) <= 2, "at most its own slots are taken"
            slow.hold.set()

            async def slow_done() -> bool:
                return slow.answered == 20

            await eventually(slow_done, what="every event at the slow endpoint, once it answers")
        finally:
            stop.set()
            await running
        assert {row["status"] for row in await messages(database)} == {"delivered"}


async def test_a_dispatcher_killed_mid_delivery_is_followed_by_another_with_the_same_id(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    clock = Clock()
    async with receivers() as [receiver]:
        receiver.slow = True
        await add_endpoint(database, settings, receiver.url)
        await record(database, acme, "clicked", link=1)
        first = dispatcher(database, settings, clock, owner="first")
        dying = asyncio.create_task(first.run_burst())

        async def posted() -> bool:
            return len(receiver.requests) == 1

        await eventually(posted, what="the first POST")
        # the process dies: its POST is cut off, no result is recorded, the lease stays
        for task in list(first._tasks):
            task.cancel()
        dying.cancel()
        await asyncio.gather(dying, return_exceptions=True)
        [message] = await messages(database)
        assert (message["status"], message["lease_owner"]) == ("pending", "first")

        second = dispatcher(database, settings, clock, owner="second")
        await second.run_burst()
        assert len(receiver.requests) == 1, "a live lease is not taken"

        receiver.slow = False
        receiver.hold.set()
        clock.advance(timedelta(seconds=second.lease_seconds + 1))
        await second.run_burst()
        assert len(receiver.requests) == 2
        assert (
            receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
        )
        assert receiver.requests[0].body == receiver.requests[1].body
        [message] = await messages(database)
        assert message["status"] == "delivered"


async def test_addresses_refused_at_delivery_are_not_connected_to(
    database: Database, settings: Settings
) -> None:
    """An endpoint that resolves to loopback (registered while loopback was allowed) is
    refused by an instance that does not allow it: the guard checks every connection."""
    allowing = webhook_settings(settings)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        created = await add_endpoint(
            database, allowing, receiver.url.replace("127.0.0.1", "localhost")
        )
        await record(database, acme, "clicked", link=1)
        strict = webhook_settings(settings, webhook_allow_loopback=False)
        await dispatcher(database, strict, Clock()).run_burst()
        assert receiver.requests == []
        [message] = await messages(database)
        assert message["last_status_code"] is None
        assert "refused" in message["last_error"] and "loopback" in message["last_error"]
        assert message["status"] == "pending"
        assert (await endpoint_row(database, created.view.endpoint.id))["last_error"]


async def test_one_burst_delivers_many_events_to_one_endpoint_in_small_claims(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings, webhook_endpoint_concurrency=2)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        await add_endpoint(database, settings, receiver.url)
        for link in range(30):
            await record(database, acme, "clicked", link=link)
        await dispatcher(database, settings, Clock()).run_burst()
        links = sorted(json.loads(request.body)["data"]["link"] for request in receiver.requests)
        assert links == list(range(30))
        assert {row["status"] for row in await messages(database)} == {"delivered"}


async def test_many_events_recorded_at_once_go_only_where_they_are_subscribed(
    database: Database, settings: Settings
) -> None:
    from campaignd.store.outbox import Event, record_events

    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    globex = await organization(database, "globex")
    async with receivers(3) as [sent, clicked, other]:
        await add_endpoint(database, settings, sent.url, event_types=["sent"])
        await add_endpoint(database, settings, clicked.url, event_types=["sent", "clicked"])
        await add_endpoint(database, settings, other.url, organization="globex")
        async with database.transaction() as connection:
            await record_events(
                connection,
                [
                    Event(acme, "sent", {"n": 1}),
                    Event(acme, "clicked", {"n": 2}),
                    Event(acme, "failed", {"n": 3}),
                    Event(globex, "failed", {"n": 4}),
                ],
            )
        await dispatcher(database, settings, Clock()).run_burst()
        assert [json.loads(r.body)["data"] for r in sent.requests] == [{"n": 1}]
        assert sorted(json.loads(r.body)["data"]["n"] for r in clicked.requests) == [1, 2]
        assert other.requests == []
        ids = {r.headers["webhook-id"] for r in sent.requests + clicked.requests}
        assert len(ids) == 2, "one id per event, the same at every endpoint"
