"""Events are recorded where the changes happen, in their transactions: a worker's
deliveries (``sent``, ``failed``), a campaign starting and finishing, an unsubscribe; and
nothing is written for an organization without an endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from campaignd.actions.unsubscribe import unsubscribe
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.delivery_support import organization, sending_campaign, worker
from tests.integration.smtp_server import SmtpServer
from tests.integration.webhook_support import (
    Clock,
    add_endpoint,
    dispatcher,
    messages,
    receivers,
    verified,
    webhook_settings,
)

EVERYTHING = ("sent", "failed", "unsubscribed", "campaign.started", "campaign.finished")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return webhook_settings(
        settings,
        email_transport=smtp.url,
        smtp_connections=2,
        max_attempts=1,
        from_address="News <news@acme.example>",
    )


async def test_a_campaign_reports_its_start_each_delivery_and_its_end(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    acme = await organization(database, "acme")
    smtp.fail_addresses(["gone@example.org"])
    async with receivers() as [receiver]:
        created = await add_endpoint(database, smtp_settings, receiver.url, event_types=EVERYTHING)
        campaign_id = await sending_campaign(
            database,
            smtp_settings,
            ["ada@example.org", "bob@example.org", "gone@example.org"],
            organization_id=acme,
        )
        await worker(database, smtp_settings).run_burst()
        await dispatcher(database, smtp_settings, Clock()).run_burst()

        documents = [json.loads(request.body) for request in receiver.requests]
        assert all(verified(created.secret, r.headers, r.body) for r in receiver.requests)
        kinds = sorted(document["type"] for document in documents)
        assert kinds == ["campaign.finished", "campaign.started", "failed", "sent", "sent"]
        by_type = {document["type"]: document["data"] for document in documents}
        assert by_type["campaign.started"]["campaignId"] == campaign_id
        assert by_type["campaign.started"]["trigger"] == "manual"
        assert by_type["failed"]["email"] == "gone@example.org"
        assert "550" in by_type["failed"]["error"]
        sent = sorted(d["data"]["email"] for d in documents if d["type"] == "sent")
        assert sent == ["ada@example.org", "bob@example.org"]
        finished = by_type["campaign.finished"]
        assert (finished["status"], finished["counts"]["sent"], finished["counts"]["failed"]) == (
            "sent",
            2,
            1,
        )
        assert len({request.headers["webhook-id"] for request in receiver.requests}) == 5


async def test_no_endpoint_no_rows(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    acme = await organization(database, "acme")
    globex = await organization(database, "globex")
    async with receivers() as [receiver]:
        await add_endpoint(
            database, smtp_settings, receiver.url, organization="globex", event_types=EVERYTHING
        )
        await sending_campaign(database, smtp_settings, ["ada@example.org"], organization_id=acme)
        await worker(database, smtp_settings).run_burst()
        assert await unsubscribe(
            database, organization_id=acme, email="ada@example.org", via="page"
        )
        assert await messages(database) == []
        assert globex  # the other organization's endpoint heard nothing of acme


async def test_an_unsubscribe_is_reported_once(database: Database, smtp_settings: Settings) -> None:
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        await add_endpoint(database, smtp_settings, receiver.url, event_types=["unsubscribed"])
        for _ in range(2):
            await unsubscribe(
                database, organization_id=acme, email="ada@example.org", via="one-click"
            )
        await dispatcher(database, smtp_settings, Clock()).run_burst()
        [request] = receiver.requests
        document = json.loads(request.body)
        assert document["type"] == "unsubscribed"
        assert document["data"] == {"email": "ada@example.org", "via": "one-click"}
