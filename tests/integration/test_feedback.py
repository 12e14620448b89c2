"""Bounces and complaints applied: outcomes, suppressions, counters, pauses (real SMTP,
real SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from campaignd.actions.feedback import apply_event
from campaignd.actions.unsubscribe import unsubscribe
from campaignd.delivery.bounce_address import bounce_tokens
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import ContactInput
from campaignd.domain.feedback import FeedbackEvent, FeedbackKind, FeedbackSource
from campaignd.settings import Settings
from campaignd.store import feedback as feedback_store
from campaignd.store.columns import utcnow
from campaignd.store.contacts import get_contact, upsert_contacts
from campaignd.store.database import Database
from campaignd.store.schema import campaigns
from campaignd.store.secrets import instance_secret
from tests.integration.api_client import open_api
from tests.integration.delivery_support import campaign_of, deliveries_of, organization
from tests.integration.feedback_support import (
    BOUNCE_DOMAIN,
    audit_count,
    feedback_settings,
    organization_id_of,
    sent_campaign,
    services_of,
    suppression_reason,
)
from tests.integration.smtp_server import SmtpServer

MAILBOX = FeedbackSource.MAILBOX


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def feedback(settings: Settings, smtp: SmtpServer) -> Settings:
    return feedback_settings(settings, smtp.url)


async def test_each_message_carries_its_own_bounce_address(
    database: Database, feedback: Settings, smtp: SmtpServer
) -> None:
    _, _, rows = await sent_campaign(database, feedback, ["ada@example.org", "bob@example.org"])
    secret = await instance_secret(database, "unsubscribe")
    senders = {}
    for email, row in rows.items():
        received = smtp.messages_to(email)[0]
        local, domain = received.sender.split("@")
        assert domain == BOUNCE_DOMAIN
        assert local.startswith("bounces+") and len(local) <= 64
        assert bounce_tokens(secret).read(local.removeprefix("bounces+")) == row["id"]
        senders[email] = received.sender
        assert received.parsed()["From"] == "News <news@acme.example>"
    assert len(set(senders.values())) == 2


async def test_a_hard_bounce_suppresses_once_and_a_repeat_changes_nothing(
    database: Database, feedback: Settings
) -> None:
    organization_id, campaign_id, rows = await sent_campaign(
        database, feedback, ["ada@example.org", "bob@example.org"]
    )
    async with database.transaction() as connection:
        await upsert_contacts(
            connection,
            organization_id=organization_id,
            rows=[ContactInput("ada@example.org", {})],
            mode="merge",
            source="test",
            now=utcnow(),
        )
    services = services_of(database, feedback)
    event = FeedbackEvent(
        source=MAILBOX,
        event_id="<dsn-1@mx.example.org>:ada@example.org",
        kind=FeedbackKind.HARD_BOUNCE,
        delivery_id=int(rows["ada@example.org"]["id"]),
        detail="5.1.1 user unknown",
    )
    applied = await apply_event(services, event)
    assert applied.new and applied.suppressed and applied.campaign_id == campaign_id

    after = await deliveries_of(database, campaign_id)
    assert after["ada@example.org"]["status"] == "bounced"
    assert after["bob@example.org"]["status"] == "sent"
    assert await suppression_reason(database, organization_id, "ada@example.org") == "bounced"
    async with database.connection() as connection:
        contact = await get_contact(
            connection, organization_id=organization_id, email="ada@example.org"
        )
        counters = await feedback_store.counters_of(connection, campaign_id)
    assert contact is not None and contact.status == ContactStatus.BOUNCED.value
    assert counters.hard_bounces == 1
    assert await audit_count(database, "feedback.hard_bounce") == 1

    again = await apply_event(services, event)
    assert again.matched and not again.new
    async with database.connection() as connection:
        assert (await feedback_store.counters_of(connection, campaign_id)).hard_bounces == 1
    assert await audit_count(database, "feedback.hard_bounce") == 1


async def test_a_complaint_keeps_every_campaign_of_the_organization_away(
    database: Database, feedback: Settings, smtp: SmtpServer
) -> None:
    organization_id, campaign_id, rows = await sent_campaign(
        database, feedback, ["ada@example.org", "bob@example.org"]
    )
    await apply_event(
        services_of(database, feedback),
        FeedbackEvent(
            source=FeedbackSource.MAILGUN,
            event_id="complaint-1",
            kind=FeedbackKind.COMPLAINT,
            delivery_id=int(rows["bob@example.org"]["id"]),
        ),
    )
    assert (await deliveries_of(database, campaign_id))["bob@example.org"]["status"] == (
        "complained"
    )
    assert await suppression_reason(database, organization_id, "bob@example.org") == "complained"

    before = len(smtp.messages)
    _, second, _ = await sent_campaign(
        database, feedback, ["ada@example.org", "bob@example.org"], organization_id=organization_id
    )
    later = await deliveries_of(database, second)
    assert later["bob@example.org"]["status"] == "skipped"
    assert later["bob@example.org"]["code"] == "suppressed"
    assert [m.recipients for m in smtp.messages[before:]] == [["ada@example.org"]]


async def test_soft_bounces_suppress_only_after_the_limit(
    database: Database, feedback: Settings
) -> None:
    organization_id = await organization(database)
    services = services_of(database, feedback.model_copy(update={"soft_bounce_limit": 3}))
    for number in range(1, 4):
        applied = await apply_event(
            services,
            FeedbackEvent(
                source=MAILBOX,
                event_id=f"soft-{number}",
                kind=FeedbackKind.SOFT_BOUNCE,
                email="Carol@Example.org",
                organization_id=organization_id,
            ),
        )
        assert applied.suppressed is (number == 3)
        reason = await suppression_reason(database, organization_id, "carol@example.org")
        assert reason == ("bounced" if number == 3 else None)


async def test_a_campaign_over_the_complaint_rate_pauses_itself_and_says_why(
    database: Database, feedback: Settings
) -> None:
    settings = feedback.model_copy(update={"feedback_minimum_sent": 5})
    recipients = [f"user{number}@example.org" for number in range(6)]
    organization_id, campaign_id, rows = await sent_campaign(database, settings, recipients)
    # a campaign finishes once every message is out; put it back to sending as if a
    # second batch were still on its way
    async with database.transaction() as connection:
        await connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status="sending")
        )
    await apply_event(
        services_of(database, settings),
        FeedbackEvent(
            source=MAILBOX,
            event_id="arf-1",
            kind=FeedbackKind.COMPLAINT,
            delivery_id=int(rows["user0@example.org"]["id"]),
        ),
    )
    campaign = await campaign_of(database, campaign_id)
    assert campaign["status"] == "paused"
    assert "complaint rate 16.67% (1 of 6 sent)" in campaign["status_reason"]
    assert await audit_count(database, "campaign.pause") == 1
    assert organization_id


async def test_an_event_for_another_organizations_delivery_leaves_it_alone(
    database: Database, feedback: Settings
) -> None:
    _, campaign_id, rows = await sent_campaign(database, feedback, ["ada@example.org"])
    other = await organization(database, "globex")
    await apply_event(
        services_of(database, feedback),
        FeedbackEvent(
            source=FeedbackSource.POSTMARK,
            event_id="pm-1",
            kind=FeedbackKind.HARD_BOUNCE,
            delivery_id=int(rows["ada@example.org"]["id"]),
            organization_id=other,
            email="ada@example.org",
        ),
    )
    assert (await deliveries_of(database, campaign_id))["ada@example.org"]["status"] == "sent"
    owner = int((await campaign_of(database, campaign_id))["organization_id"])
    assert await suppression_reason(database, owner, "ada@example.org") is None
    assert await suppression_reason(database, other, "ada@example.org") == "bounced"


async def test_the_api_shows_a_campaigns_figures_to_its_organization_only(
    database: Database, feedback: Settings
) -> None:
    async with open_api(database, feedback) as api:
        acme = await organization_id_of(database, "acme")
        _, campaign_id, rows = await sent_campaign(
            database,
            feedback,
            [f"user{number}@example.org" for number in range(4)],
            organization_id=acme,
        )
        services = services_of(database, feedback)
        for kind, email in [
            (FeedbackKind.HARD_BOUNCE, "user0@example.org"),
            (FeedbackKind.SOFT_BOUNCE, "user1@example.org"),
            (FeedbackKind.COMPLAINT, "user2@example.org"),
        ]:
            await apply_event(
                services,
                FeedbackEvent(
                    source=MAILBOX,
                    event_id=f"{kind}-{email}",
                    kind=kind,
                    delivery_id=int(rows[email]["id"]),
                ),
            )
        await unsubscribe(database, organization_id=acme, email="user3@example.org", via="page")

        answer = await api.call("acme_viewer", "GET", f"/campaigns/{campaign_id}")
        assert answer.status_code == 200
        body = answer.json()
        assert body["feedback"] == {
            "sent": 4,
            "delivered": 3,
            "hardBounces": 1,
            "softBounces": 1,
            "complaints": 1,
            "unsubscribed": 1,
            "hardBounceRate": 0.25,
            "softBounceRate": 0.25,
            "complaintRate": 0.25,
            "unsubscribeRate": 0.25,
        }
        assert body["counts"]["bounced"] == 1 and body["counts"]["complained"] == 1
        other = await api.call("globex_admin", "GET", f"/campaigns/{campaign_id}")
        assert other.status_code == 404


async def test_one_bounce_reported_by_two_intakes_counts_once(
    database: Database, feedback: Settings
) -> None:
    _, campaign_id, rows = await sent_campaign(database, feedback, ["ada@example.org"])
    services = services_of(database, feedback)
    delivery_id = int(rows["ada@example.org"]["id"])
    for number, (source, kind) in enumerate(
        [
            (MAILBOX, FeedbackKind.SOFT_BOUNCE),
            (FeedbackSource.SES, FeedbackKind.SOFT_BOUNCE),
            (MAILBOX, FeedbackKind.HARD_BOUNCE),
            (FeedbackSource.MAILGUN, FeedbackKind.HARD_BOUNCE),
        ]
    ):
        event_id = f"event-{number}"
        applied = await apply_event(
            services,
            FeedbackEvent(source=source, event_id=event_id, kind=kind, delivery_id=delivery_id),
        )
        assert applied.new
    async with database.connection() as connection:
        counters = await feedback_store.counters_of(connection, campaign_id)
    assert (counters.soft_bounces, counters.hard_bounces) == (1, 1)
