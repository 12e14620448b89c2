"""Clicks, opens, hard bounces and complaints reach the organization's webhooks: each event
is written in the transaction that records it, with the payload docs/webhooks.md gives."""

from __future__ import annotations

import json
import time

from campaignd.actions.feedback import apply_event
from campaignd.actions.services import Services
from campaignd.actions.tracking import Tracker
from campaignd.delivery.tracking import tracking_tokens
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.feedback import FeedbackEvent, FeedbackKind, FeedbackSource
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.secrets import instance_secret
from campaignd.store.tracking import save_links
from campaignd.wakeups import LocalWakeups
from tests.integration.delivery_support import deliveries_of, organization, sending_campaign
from tests.integration.webhook_support import add_endpoint, messages, webhook_settings

ENGAGEMENT = ("opened", "clicked", "bounced", "complained")
URL = "https://shop.example.org/spring"


async def payloads(database: Database) -> list[tuple[str, dict[str, object]]]:
    return [
        (str(row["event_type"]), json.loads(row["payload"])) for row in await messages(database)
    ]


async def test_clicks_opens_bounces_and_complaints_become_webhook_events(
    database: Database, settings: Settings
) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    await add_endpoint(database, settings, "http://127.0.0.1:9/hooks", event_types=ENGAGEMENT)
    campaign_id = await sending_campaign(
        database,
        settings,
        ["ada@example.org", "bob@example.org", "cy@example.org"],
        organization_id=acme,
    )
    async with database.transaction() as connection:
        await save_links(connection, campaign_id, [URL])
    ids = {
        email: int(row["id"]) for email, row in (await deliveries_of(database, campaign_id)).items()
    }
    tokens = tracking_tokens(await instance_secret(database, SECRET_NAME))
    sent_at = int(time.time()) - 3600  # an hour ago: a person, not a prefetch
    browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    tracker = Tracker(database)

    followed = await tracker.click(
        tokens.click(campaign_id, ids["ada@example.org"], 0, sent_at),
        user_agent=browser,
        address="198.51.100.7",
    )
    await tracker.open(
        tokens.open(campaign_id, ids["ada@example.org"], sent_at),
        user_agent=browser,
        address="198.51.100.7",
    )
    services = Services(database, settings, wakeups=LocalWakeups())
    for email, kind in (
        ("bob@example.org", FeedbackKind.HARD_BOUNCE),
        ("cy@example.org", FeedbackKind.COMPLAINT),
    ):
        await apply_event(
            services,
            FeedbackEvent(
                FeedbackSource.MAILBOX,
                event_id=f"report-{email}",
                kind=kind,
                delivery_id=ids[email],
                detail="550 5.1.1 no such user" if kind is FeedbackKind.HARD_BOUNCE else None,
            ),
        )

    assert followed == URL
    events = dict(await payloads(database))
    assert sorted(events) == ["bounced", "clicked", "complained", "opened"]
    assert events["clicked"] == {
        "campaignId": campaign_id,
        "deliveryId": ids["ada@example.org"],
        "email": "ada@example.org",
        "url": URL,
        "link": 0,
    }
    assert events["opened"]["email"] == "ada@example.org"
    assert events["opened"]["machine"] is False
    assert events["bounced"]["email"] == "bob@example.org"
    assert events["bounced"]["reason"] == "550 5.1.1 no such user"
    assert events["complained"] == {
        "campaignId": campaign_id,
        "deliveryId": ids["cy@example.org"],
        "email": "cy@example.org",
    }


async def test_no_endpoint_for_them_means_no_event(database: Database, settings: Settings) -> None:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    await add_endpoint(database, settings, "http://127.0.0.1:9/hooks", event_types=("sent",))
    campaign_id = await sending_campaign(
        database, settings, ["ada@example.org"], organization_id=acme
    )
    async with database.transaction() as connection:
        await save_links(connection, campaign_id, [URL])
    [row] = (await deliveries_of(database, campaign_id)).values()
    tokens = tracking_tokens(await instance_secret(database, SECRET_NAME))
    await Tracker(database).click(
        tokens.click(campaign_id, int(row["id"]), 0, int(time.time()) - 3600),
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        address="198.51.100.7",
    )
    assert await payloads(database) == []
