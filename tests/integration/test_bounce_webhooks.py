"""Provider webhooks over HTTP: Mailgun (HMAC), Postmark (Basic auth), SendGrid (ECDSA),
each with its real payload shape; forged, stale and replayed requests are refused and
change nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from campaignd.feedback.mailgun import sign
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import feedback_events
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import deliveries_of
from tests.integration.feedback_support import (
    audit_count,
    feedback_settings,
    organization_id_of,
    sent_campaign,
    suppression_reason,
)
from tests.integration.smtp_server import SmtpServer

MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"
POSTMARK_SECRET = "pm-s3cret"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
RECIPIENTS = [f"{name}@example.net" for name in ("alice", "bob", "carol", "dave", "erin")]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def webhook_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return feedback_settings(
        settings,
        smtp.url,
        mailgun_signing_key=MAILGUN_KEY,
        postmark_webhook_secret=POSTMARK_SECRET,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
    )


async def post(api: Api, provider: str, body: bytes, **headers: str) -> httpx.Response:
    return await api.client.post(
        f"/webhooks/bounces/{provider}/acme",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def mailgun_body(
    event: dict[str, Any], *, key: str = MAILGUN_KEY, timestamp: float | None = None
) -> bytes:
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    token = base64.b16encode(json.dumps(event, sort_keys=True).encode()[:25]).decode().lower()
    token += str(time.monotonic_ns())
    signature = {"timestamp": stamp, "token": token, "signature": sign(key, stamp, token)}
    return json.dumps({"signature": signature, "event-data": event}).encode()


def mailgun_failed(recipient: str, message_id: str = "") -> dict[str, Any]:
    return {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": time.time(),
        "severity": "permanent",
        "reason": "bounce",
        "recipient": recipient,
        "log-level": "error",
        "message": {"headers": {"message-id": message_id, "to": recipient}},
        "delivery-status": {"code": 550, "message": "5.1.1 no such user", "attempt-no": 1},
        "user-variables": {},
    }


POSTMARK_AUTHORIZATION = (
    "Basic " + base64.b64encode(f"postmark:{POSTMARK_SECRET}".encode()).decode()
)


async def sent_for_acme(database: Database, settings: Settings) -> tuple[int, int]:
    """(acme's id, a campaign of acme's sent to ``RECIPIENTS``)."""
    acme = await organization_id_of(database, "acme")
    _, campaign_id, _ = await sent_campaign(database, settings, RECIPIENTS, organization_id=acme)
    return acme, campaign_id


async def statuses(database: Database, campaign_id: int) -> dict[str, str]:
    return {
        email: str(row["status"])
        for email, row in (await deliveries_of(database, campaign_id)).items()
    }


async def test_mailgun_events_verified_applied_and_never_replayed(
    database: Database, webhook_settings: Settings, smtp: SmtpServer
) -> None:
    async with open_api(database, webhook_settings) as api:
        acme, campaign_id = await sent_for_acme(database, webhook_settings)
        alice_id = str(smtp.messages_to("alice@example.net")[0].parsed()["Message-ID"])

        body = mailgun_body(mailgun_failed("alice@example.net", alice_id.strip("<>")))
        answer = await post(api, "mailgun", body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"events": 1, "applied": 1}
        assert (await statuses(database, campaign_id))["alice@example.net"] == "bounced"
        assert await suppression_reason(database, acme, "alice@example.net") == "bounced"

        replay = await post(api, "mailgun", body)
        assert replay.status_code == 409
        assert await audit_count(database, "feedback.hard_bounce") == 1

        forged = await post(
            api, "mailgun", mailgun_body(mailgun_failed("bob@example.net"), key="guess")
        )
        assert forged.status_code == 401
        stale = await post(
            api,
            "mailgun",
            mailgun_body(mailgun_failed("bob@example.net"), timestamp=time.time() - 90_000),
        )
        assert stale.status_code == 401
        assert "too old" in stale.json()["detail"]
        assert (await statuses(database, campaign_id))["bob@example.net"] == "sent"
        assert await suppression_reason(database, acme, "bob@example.net") is None

        complaint = mailgun_failed("bob@example.net") | {"event": "complained", "id": "c1"}
        assert (await post(api, "mailgun", mailgun_body(complaint))).status_code == 200
        assert (await statuses(database, campaign_id))["bob@example.net"] == "complained"
        assert await suppression_reason(database, acme, "bob@example.net") == "complained"


async def test_postmark_needs_its_credentials_and_refuses_a_repeat(
    database: Database, webhook_settings: Settings
) -> None:
    async with open_api(database, webhook_settings) as api:
        acme, campaign_id = await sent_for_acme(database, webhook_settings)
        record = {
            "RecordType": "Bounce",
            "MessageStream": "outbound",
            "ID": 4323372036,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Name": "Hard bounce",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Metadata": {},
            "ServerID": 23,
            "Description": "The server was unable to deliver your message",
            "Details": "smtp;550 5.1.1 user unknown",
            "Email": "carol@example.net",
            "From": "news@acme.example",
            "BouncedAt": "2026-12-01T10:00:01Z",
            "DumpAvailable": True,
            "Inactive": True,
            "CanActivate": True,
        }
        body = json.dumps(record).encode()
        good = POSTMARK_AUTHORIZATION
        bad = "Basic " + base64.b64encode(b"postmark:guess").decode()

        assert (await post(api, "postmark", body)).status_code == 401
        refused = await post(api, "postmark", body, Authorization=bad)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert (await statuses(database, campaign_id))["carol@example.net"] == "sent"

        answer = await post(api, "postmark", body, Authorization=good)
        assert answer.status_code == 200, answer.text
        assert (await statuses(database, campaign_id))["carol@example.net"] == "bounced"
        assert await suppression_reason(database, acme, "carol@example.net") == "bounced"
        assert (await post(api, "postmark", body, Authorization=good)).status_code == 409

        complaint = record | {
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "ID": 4323372037,
            "Email": "dave@example.net",
        }
        answer = await post(api, "postmark", json.dumps(complaint).encode(), Authorization=good)
        assert answer.status_code == 200
        assert await suppression_reason(database, acme, "dave@example.net") == "complained"


def sendgrid_headers(body: bytes, timestamp: float | None = None) -> dict[str, str]:
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    signature = SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


async def test_sendgrid_signed_events_and_what_is_refused(
    database: Database, webhook_settings: Settings, smtp: SmtpServer
) -> None:
    async with open_api(database, webhook_settings) as api:
        _, campaign_id = await sent_for_acme(database, webhook_settings)
        dave_id = str(smtp.messages_to("dave@example.net")[0].parsed()["Message-ID"])
        events = [
            {
                "email": "dave@example.net",
                "timestamp": int(time.time()),
                "smtp-id": dave_id,
                "event": "bounce",
                "type": "bounce",
                "status": "5.1.1",
                "reason": "550 5.1.1 user unknown",
                "bounce_classification": "Invalid Address",
                "sg_event_id": "ZXYx",
                "sg_message_id": "m1.filter0001.0",
            },
            {
                "email": "erin@example.net",
                "timestamp": int(time.time()),
                "event": "spamreport",
                "sg_event_id": "ZXYy",
                "sg_message_id": "m2.filter0001.0",
            },
            {"email": "alice@example.net", "event": "deferred", "sg_event_id": "ZXYz"},
        ]
        body = json.dumps(events).encode() + b"\r\n"
        headers = sendgrid_headers(body)

        tampered = body.replace(b"erin", b"bob_")
        assert (await post(api, "sendgrid", tampered, **headers)).status_code == 401
        stale = sendgrid_headers(body, timestamp=time.time() - 90_000)
        assert (await post(api, "sendgrid", body, **stale)).status_code == 401
        assert (await post(api, "sendgrid", body)).status_code == 401
        assert set((await statuses(database, campaign_id)).values()) == {"sent"}

        answer = await post(api, "sendgrid", body, **headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"events": 2, "applied": 2}
        after = await statuses(database, campaign_id)
        assert after["dave@example.net"] == "bounced"
        assert after["erin@example.net"] == "complained"
        assert after["alice@example.net"] == "sent"
        assert (await post(api, "sendgrid", body, **headers)).status_code == 409


async def test_unknown_providers_and_organizations_are_not_found(
    database: Database, settings: Settings
) -> None:
    async with open_api(database, settings, mailgun_signing_key=MAILGUN_KEY) as api:
        body = mailgun_body(mailgun_failed("alice@example.net"))
        assert (await post(api, "postmark", body)).status_code == 404  # not set up
        assert (await post(api, "unknown", body)).status_code == 404
        answer = await api.client.post("/webhooks/bounces/mailgun/nobody", content=body)
        assert answer.status_code == 404


async def test_replay_tokens_too_old_to_matter_are_forgotten(
    database: Database, webhook_settings: Settings
) -> None:
    """Tokens of requests older than twice WEBHOOK_MAX_AGE go as new ones arrive; the
    table does not grow for ever, and a recent token still refuses its replay."""
    from datetime import timedelta

    from sqlalchemy import func, insert, select

    from campaignd.store.columns import utcnow
    from campaignd.store.schema import webhook_replays

    max_age = webhook_settings.webhook_max_age
    async with open_api(database, webhook_settings) as api:
        acme = await organization_id_of(database, "acme")
        await sent_campaign(database, webhook_settings, RECIPIENTS, organization_id=acme)
        async with database.transaction() as connection:
            await connection.execute(
                insert(webhook_replays),
                [
                    {
                        "provider": "mailgun",
                        "token": "old",
                        "seen_at": utcnow() - timedelta(seconds=2 * max_age + 60),
                    },
                    {
                        "provider": "mailgun",
                        "token": "recent",
                        "seen_at": utcnow() - timedelta(seconds=max_age),
                    },
                ],
            )
        body = mailgun_body(mailgun_failed("carol@example.net"))
        assert (await post(api, "mailgun", body)).status_code == 200
        async with database.connection() as connection:
            tokens = set((await connection.execute(select(webhook_replays.c.token))).scalars())
            count = await connection.scalar(select(func.count()).select_from(webhook_replays))
        assert "old" not in tokens and "recent" in tokens and count == 2
        assert (await post(api, "mailgun", body)).status_code == 409


async def test_a_nul_character_in_a_providers_event_does_not_lose_the_bounce(
    database: Database, webhook_settings: Settings
) -> None:
    """A provider's diagnostic may hold U+0000, which PostgreSQL stores in no text column:
    the request is neither refused (the provider would retry, then give up) nor a server
    error; the bounce is applied and the diagnostic kept with U+FFFD in its place."""
    async with open_api(database, webhook_settings) as api:
        acme, campaign_id = await sent_for_acme(database, webhook_settings)
        record = {
            "RecordType": "Bounce",
            "ID": 4323372099,
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79499",
            "Details": "smtp;550 5.1.1 user\x00unknown",
            "Email": "erin@example.net",
            "BouncedAt": "2026-12-01T10:00:01Z",
        }
        good = POSTMARK_AUTHORIZATION
        answer = await post(api, "postmark", json.dumps(record).encode(), Authorization=good)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"events": 1, "applied": 1}
        assert (await statuses(database, campaign_id))["erin@example.net"] == "bounced"
        assert await suppression_reason(database, acme, "erin@example.net") == "bounced"
        async with database.connection() as connection:
            details = (
                await connection.execute(
                    select(feedback_events.c.detail).where(
                        feedback_events.c.email == "erin@example.net"
                    )
                )
            ).scalars()
            assert [detail for detail in details if "\ufffd" in (detail or "")], "kept"
