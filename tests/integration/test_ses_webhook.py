"""Amazon SES notifications through SNS: signatures (versions 1 and 2) checked with the
certificate fetched from an SNS host (a stub transport serves a test certificate there),
subscription confirmed, topics, hosts, forgeries and replays refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from campaignd.feedback import ses
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import deliveries_of
from tests.integration.feedback_support import (
    feedback_settings,
    organization_id_of,
    sent_campaign,
    suppression_reason,
)
from tests.integration.smtp_server import SmtpServer

TOPIC = "arn:aws:sns:eu-west-1:111122223333:ses-feedback"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    + TOPIC
    + "&Token=2336412f37"
)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem() -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(KEY, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class SnsStub:
    """What the SNS hosts would answer: the certificate, and subscription confirmations."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.pem = certificate_pem()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if str(request.url) == CERT_URL:
            return httpx.Response(200, content=self.pem)
        if request.url.params.get("Action") == "ConfirmSubscription":
            return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")
        return httpx.Response(404)


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[SnsStub]:
    stub = SnsStub()
    monkeypatch.setattr(ses, "CLIENT", ses.SnsClient(httpx.MockTransport(stub.handle)))
    yield stub


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def signed(message: dict[str, Any], *, version: str = "2") -> bytes:
    message = {"SignatureVersion": version, "SigningCertURL": CERT_URL} | message
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = KEY.sign(ses.string_to_sign(message), padding.PKCS1v15(), algorithm)
    return json.dumps(message | {"Signature": base64.b64encode(signature).decode()}).encode()


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification(content: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(content),
        "Timestamp": now_text(),
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def bounce(email: str, our_message_id: str) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": email,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": now_text(),
            "feedbackId": "fb-1",
        },
        "mail": {
            "timestamp": now_text(),
            "messageId": "ses-1",
            "source": "news@acme.example",
            "destination": [email],
            "headers": [{"name": "Message-ID", "value": our_message_id}],
            "commonHeaders": {"messageId": our_message_id},
        },
    }


async def post(api: Api, body: bytes) -> httpx.Response:
    return await api.client.post(
        "/webhooks/bounces/ses/acme",
        content=body,
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "x"},
    )


async def test_ses_bounces_and_complaints_through_sns(
    database: Database, settings: Settings, smtp: SmtpServer, sns: SnsStub
) -> None:
    webhook = feedback_settings(settings, smtp.url, ses_topic_arns=TOPIC)
    async with open_api(database, webhook) as api:
        acme = await organization_id_of(database, "acme")
        recipients = ["alice@example.net", "bob@example.net"]
        _, campaign_id, _ = await sent_campaign(database, webhook, recipients, organization_id=acme)
        alice_id = str(smtp.messages_to("alice@example.net")[0].parsed()["Message-ID"])

        confirmation = {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic " + TOPIC,
            "SubscribeURL": SUBSCRIBE_URL,
            "Timestamp": now_text(),
        }
        answer = await post(api, signed(confirmation, version="1"))
        assert answer.status_code == 200, answer.text
        assert SUBSCRIBE_URL in sns.requests

        body = signed(notification(bounce("alice@example.net", alice_id), "m-1"))
        answer = await post(api, body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"events": 1, "applied": 1}
        rows = await deliveries_of(database, campaign_id)
        assert rows["alice@example.net"]["status"] == "bounced"
        assert (await post(api, body)).status_code == 409

        complaint = {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": "bob@example.net"}],
                "timestamp": now_text(),
                "feedbackId": "fb-2",
                "complaintFeedbackType": "abuse",
                "userAgent": "Yahoo!-Mail-Feedback/2.0",
            },
            "mail": {"messageId": "ses-2", "destination": ["bob@example.net"]},
        }
        answer = await post(api, signed(notification(complaint, "m-2"), version="1"))
        assert answer.status_code == 200, answer.text
        assert await suppression_reason(database, acme, "bob@example.net") == "complained"
        assert [url for url in sns.requests if url == CERT_URL] == [CERT_URL]  # cached


async def test_forged_or_foreign_sns_messages_change_nothing(
    database: Database, settings: Settings, smtp: SmtpServer, sns: SnsStub
) -> None:
    webhook = feedback_settings(settings, smtp.url, ses_topic_arns=TOPIC)
    async with open_api(database, webhook) as api:
        acme = await organization_id_of(database, "acme")
        _, campaign_id, _ = await sent_campaign(
            database, webhook, ["alice@example.net"], organization_id=acme
        )
        message = notification(bounce("alice@example.net", "<x@y>"), "m-9")

        evil = "https://sns.eu-west-1.amazonaws.com.evil.net/SimpleNotificationService-t.pem"
        foreign_host = json.loads(signed(message)) | {"SigningCertURL": evil}
        answer = await post(api, json.dumps(foreign_host).encode())
        assert answer.status_code == 401
        assert not any("evil" in url for url in sns.requests)

        other_topic = signed(message | {"TopicArn": TOPIC.replace("ses-feedback", "other")})
        assert (await post(api, other_topic)).status_code == 401

        tampered = json.loads(signed(message))
        tampered["Message"] = tampered["Message"].replace("alice", "carol")
        assert (await post(api, json.dumps(tampered).encode())).status_code == 401

        old = message | {"Timestamp": "2020-01-05T10:00:02.000Z"}
        assert (await post(api, signed(old))).status_code == 401
        assert (await post(api, signed(message, version="3"))).status_code == 401

        rows = await deliveries_of(database, campaign_id)
        assert rows["alice@example.net"]["status"] == "sent"
        assert await suppression_reason(database, acme, "alice@example.net") is None
