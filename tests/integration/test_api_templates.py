"""Templates over HTTP: refused with the limit they go over, without the memory, and without
holding up anyone else's requests while they are tried."""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from sqlalchemy import update

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, runs
from tests.integration.api_client import campaign_body, future, open_api

NESTED_LOOPS = "{% for i in range(9000) %}{% for j in range(9000) %}x{% endfor %}{% endfor %}"


async def test_health_answers_while_a_slow_template_is_being_tried(
    database: Database, settings: Settings
) -> None:
    """With iterations unbounded, the nested loops run until the clock stops them (1 s): the
    event loop keeps answering /healthz all that time, since the trial runs in a thread."""
    async with open_api(database, settings, template_max_iterations=10**9) as api:
        await api.call(None, "GET", "/healthz")  # the app is warm
        started = time.perf_counter()
        save = asyncio.create_task(
            api.call("acme_admin", "POST", "/campaigns", json=campaign_body(textBody=NESTED_LOOPS))
        )
        answered: list[float] = []
        while not save.done():
            await asyncio.sleep(0.01)  # a probe every 10 ms (an in-process call never waits)
            health = await api.call(None, "GET", "/healthz")
            assert health.status_code == 200
            if not save.done():
                answered.append(time.perf_counter() - started)
        response = await save
        saving = time.perf_counter() - started

    assert response.status_code == 422, response.text
    assert response.json()["detail"] == ("textBody: rendering takes longer than the limit of 1 s")
    assert saving >= 1.0
    # answers came all through the trial, not only before it started or after it ended
    assert len(answered) >= 10
    assert answered[-1] >= 0.9 and answered[-1] < saving
    assert await api.rows(campaigns) == []


async def test_a_huge_text_is_refused_without_the_memory(
    database: Database, settings: Settings
) -> None:
    async with open_api(database, settings) as api:
        body = campaign_body(textBody='{{ "x" * 100000000 }}')
        tracemalloc.start()
        try:
            response = await api.call("acme_admin", "POST", "/campaigns", json=body)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert response.status_code == 422, response.text
    assert "textBody: a repeated text would be 100000000 characters" in response.json()["detail"]
    assert peak < 20_000_000  # the text asked for is 100 MB


async def test_templates_are_tried_again_when_scheduled_or_executed(
    database: Database, settings: Settings
) -> None:
    """A campaign saved before a rule of the sandbox existed (here: the ``attr`` filter) is
    refused when it is scheduled or started, not discovered delivery by delivery."""
    async with open_api(database, settings) as api:
        campaign_id = await api.campaign_in("draft")
        async with api.database.transaction() as connection:
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(text_body="{{ ('{0.__class__}'|attr('format'))(1) }}")
            )
        before = await api.snapshot()

        scheduled = await api.call(
            "acme_admin",
            "POST",
            f"/campaigns/{campaign_id}/schedule",
            json={"scheduledFor": future()},
        )
        executed = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")

        for response in (scheduled, executed):
            assert response.status_code == 422, response.text
            assert response.json()["detail"] == "textBody: there is no filter 'attr'"
        assert await api.snapshot() == before
        assert await api.rows(runs) == []


async def test_limits_come_from_the_settings(database: Database, settings: Settings) -> None:
    def loops(count: int) -> dict[str, str]:
        return campaign_body(textBody="{% for i in range(" + str(count) + ") %}.{% endfor %}")

    async with open_api(database, settings, template_max_iterations=49) as api:
        accepted = await api.call("acme_admin", "POST", "/campaigns", json=loops(49))
        refused = await api.call("acme_admin", "POST", "/campaigns", json=loops(50))

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "textBody: range() of 50 numbers goes over the limit of 49 loop iterations"
    )
