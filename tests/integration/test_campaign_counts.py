"""Counts of large campaigns are served from memory between counts; small ones are exact.

``CampaignCounts`` is built with a threshold of 3 deliveries so that a few recipients make
a "large" campaign: what a 10 M-recipient campaign does, without ten million rows.
"""

from __future__ import annotations

from campaignd.actions.campaign_counts import CampaignCounts
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.delivery_support import eventually, organization, sending_campaign, worker


async def counts_of(counts: CampaignCounts, database: Database, campaign_id: int) -> dict[str, int]:
    async with database.connection() as connection:
        return (await counts.of(connection, database, [campaign_id]))[campaign_id]


async def test_a_large_campaign_answers_from_memory_then_catches_up(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        ["a@example.org", "b@example.org", "c@example.org", "d@example.org"],
        organization_id=organization_id,
    )
    counts = CampaignCounts(large=3, fresh_seconds=0.0)
    assert await counts_of(counts, database, campaign_id) == {"queued": 4}

    await worker(database, settings).run_burst()

    # The next answer is the kept one (no count on the request), and starts a count ...
    assert await counts_of(counts, database, campaign_id) == {"queued": 4}

    # ... whose result the following requests get.
    async def caught_up() -> bool:
        return await counts_of(counts, database, campaign_id) == {"sent": 4}

    await eventually(caught_up, what="the background count")


async def test_kept_counts_are_not_counted_again_while_fresh(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        ["a@example.org", "b@example.org", "c@example.org"],
        organization_id=organization_id,
    )
    counts = CampaignCounts(large=3, fresh_seconds=3600.0)
    assert await counts_of(counts, database, campaign_id) == {"queued": 3}
    await worker(database, settings).run_burst()
    for _ in range(3):
        assert await counts_of(counts, database, campaign_id) == {"queued": 3}
    counts.forget(campaign_id)
    assert await counts_of(counts, database, campaign_id) == {"sent": 3}


async def test_a_small_campaign_is_counted_on_every_request(
    database: Database, settings: Settings
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, settings, ["a@example.org", "b@example.org"], organization_id=organization_id
    )
    counts = CampaignCounts(large=3, fresh_seconds=3600.0)
    assert await counts_of(counts, database, campaign_id) == {"queued": 2}
    await worker(database, settings).run_burst()
    assert await counts_of(counts, database, campaign_id) == {"sent": 2}


async def test_counts_that_cost_more_are_kept_longer(
    database: Database, settings: Settings
) -> None:
    """Fresh for ``cost_factor`` times what the count took, however short ``fresh_seconds``:
    a ten-million-row count is not started back to back."""
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        settings,
        ["a@example.org", "b@example.org", "c@example.org"],
        organization_id=organization_id,
    )
    counts = CampaignCounts(large=3, fresh_seconds=0.0, cost_factor=1e9)
    assert await counts_of(counts, database, campaign_id) == {"queued": 3}
    await worker(database, settings).run_burst()
    for _ in range(3):
        assert await counts_of(counts, database, campaign_id) == {"queued": 3}
    assert not counts._tasks  # no count was started in the background
