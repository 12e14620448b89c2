"""Amazon SES notifications through Amazon SNS: the SNS message's signature is verified
with the certificate at ``SigningCertURL``, which is fetched only from
``https://sns.<region>.amazonaws.com/...pem`` (no redirects, cached by URL), and only
topics listed in ``SES_TOPIC_ARNS`` count (a valid signature proves only that some SNS
topic sent it). ``SignatureVersion`` 1 is SHA1withRSA, 2 SHA256withRSA. A
``SubscriptionConfirmation`` is confirmed by fetching its ``SubscribeURL`` (same host
rule); an SNS ``MessageId`` seen before is a replay.

The SES message (``notificationType`` or ``eventType``): a ``Permanent`` bounce is hard
(``Suppressed``/``OnAccountSuppressionList`` are SES's own list, not a new bounce), a
``Transient`` or ``Undetermined`` one soft unless its status is 5.1.x or 5.4.4; a
``Complaint`` (other than ``not-spam``) is a complaint for each complained recipient.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from campaignd.domain.feedback import FeedbackKind
from campaignd.feedback.providers import (
    ProviderEvent,
    Verified,
    WebhookRefused,
    bracketed,
    json_body,
    text,
)

SNS_URLS = "https://sns.<region>.amazonaws.com/"
SNS_HOST = re.compile(r"sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?")
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
HARD_SUBTYPES = frozenset({"General", "NoEmail"})
PROVIDER_SUPPRESSED = frozenset({"Suppressed", "OnAccountSuppressionList"})
HARD_STATUS = re.compile(r"^5\.(1\.\d+|4\.4)$")
FETCH_TIMEOUT = 10.0
MAX_CERTIFICATE_BYTES = 64 * 1024


def is_sns_url(url: str, *, pem: bool = False) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.hostname is not None
        and SNS_HOST.fullmatch(parts.hostname) is not None
        and parts.port in (None, 443)
        and parts.username is None
        and (not pem or parts.path.endswith(".pem"))
    )


class SnsClient:
    """Fetches signing certificates (cached) and confirms subscriptions, from SNS hosts
    only. ``transport``: httpx's, replaced in tests."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport
        self._certificates: dict[str, x509.Certificate] = {}

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport, timeout=FETCH_TIMEOUT, follow_redirects=False
        )

    async def certificate(self, url: str) -> x509.Certificate:
        if not is_sns_url(url, pem=True):
            raise WebhookRefused(
                401, "SigningCertURL: not an https://sns.<region>.amazonaws.com/ .pem"
            )
        if url not in self._certificates:
            try:
                async with self._client() as client:
                    answer = await client.get(url)
                if answer.status_code != 200 or len(answer.content) > MAX_CERTIFICATE_BYTES:
                    raise WebhookRefused(401, f"SigningCertURL: answered {answer.status_code}")
                self._certificates[url] = x509.load_pem_x509_certificate(answer.content)
            except (httpx.HTTPError, ValueError) as error:
                raise WebhookRefused(401, f"SigningCertURL: {error}") from None
        return self._certificates[url]

    async def confirm(self, url: str) -> None:
        if not is_sns_url(url):
            raise WebhookRefused(
                400, "SubscribeURL: not an https://sns.<region>.amazonaws.com/ URL"
            )
        try:
            async with self._client() as client:
                answer = await client.get(url)
        except httpx.HTTPError as error:
            raise WebhookRefused(502, f"SubscribeURL: {error}") from None
        if answer.status_code != 200:
            raise WebhookRefused(502, f"SubscribeURL: answered {answer.status_code}")


CLIENT = SnsClient()


def string_to_sign(message: dict[str, Any]) -> bytes:
    keys = CONFIRMATION_KEYS if message.get("Type") in CONFIRMATIONS else NOTIFICATION_KEYS
    return "".join(
        f"{key}\n{message[key]}\n" for key in keys if isinstance(message.get(key), str)
    ).encode()


async def verify(
    body: bytes,
    *,
    topics: frozenset[str],
    now: float,
    max_age: float,
    client: SnsClient | None = None,
) -> Verified:
    message = json_body(body)
    if not isinstance(message, dict) or not text(message.get("Type")):
        raise WebhookRefused(400, "body: an SNS message is expected")
    if text(message.get("TopicArn")) not in topics:
        raise WebhookRefused(401, "TopicArn: not one of CAMPAIGND_SES_TOPIC_ARNS")
    algorithm = HASHES.get(text(message.get("SignatureVersion")))
    if algorithm is None:
        raise WebhookRefused(401, "SignatureVersion: 1 or 2 expected")
    certificate = await (client or CLIENT).certificate(text(message.get("SigningCertURL")))
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRefused(401, "SigningCertURL: not an RSA certificate")
    try:
        key.verify(
            base64.b64decode(text(message.get("Signature")), validate=True),
            string_to_sign(message),
            padding.PKCS1v15(),
            algorithm(),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise WebhookRefused(401, "Signature: does not verify") from None
    try:
        published = datetime.fromisoformat(text(message.get("Timestamp")).replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRefused(401, "Timestamp: not an ISO 8601 time") from None
    if abs(now - published.timestamp()) > max_age:
        raise WebhookRefused(401, "Timestamp: too old")
    replay_token = text(message.get("MessageId"))
    if message["Type"] == "SubscriptionConfirmation":
        return Verified(replay_token=replay_token, subscribe_url=text(message.get("SubscribeURL")))
    if message["Type"] != "Notification":
        return Verified(replay_token=replay_token)
    try:
        notification = json.loads(text(message.get("Message")))
    except ValueError:
        return Verified(replay_token=replay_token)  # SES's "Successfully validated" note
    events = _events(notification) if isinstance(notification, dict) else []
    return Verified(replay_token=replay_token, events=events)


def _message_id(mail: object) -> str | None:
    if not isinstance(mail, dict):
        return None
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and text(common.get("messageId")):
        return bracketed(text(common["messageId"]))
    headers = mail.get("headers")
    for header in headers if isinstance(headers, list) else []:
        if isinstance(header, dict) and text(header.get("name")).lower() == "message-id":
            return bracketed(text(header.get("value")))
    return None


def _events(notification: dict[str, Any]) -> list[ProviderEvent]:
    kind_name = text(notification.get("notificationType")) or text(notification.get("eventType"))
    message_id = _message_id(notification.get("mail"))
    if kind_name == "Bounce" and isinstance(notification.get("bounce"), dict):
        bounce = notification["bounce"]
        bounce_type, subtype = text(bounce.get("bounceType")), text(bounce.get("bounceSubType"))
        if subtype in PROVIDER_SUPPRESSED:
            return []
        found = []
        for recipient in bounce.get("bouncedRecipients") or []:
            if not isinstance(recipient, dict) or not text(recipient.get("emailAddress")):
                continue
            status = text(recipient.get("status"))
            hard = (bounce_type == "Permanent" and subtype in HARD_SUBTYPES) or bool(
                HARD_STATUS.match(status)
            )
            if text(recipient.get("action")) == "delayed":
                continue
            email = text(recipient["emailAddress"])
            found.append(
                ProviderEvent(
                    event_id=f"{text(bounce.get('feedbackId'))}:{email}",
                    kind=FeedbackKind.HARD_BOUNCE if hard else FeedbackKind.SOFT_BOUNCE,
                    email=email,
                    message_id=message_id,
                    detail=text(recipient.get("diagnosticCode")) or status or None,
                )
            )
        return found
    if kind_name == "Complaint" and isinstance(notification.get("complaint"), dict):
        complaint = notification["complaint"]
        if text(complaint.get("complaintFeedbackType")) == "not-spam":
            return []
        return [
            ProviderEvent(
                event_id=f"{text(complaint.get('feedbackId'))}:{text(recipient['emailAddress'])}",
                kind=FeedbackKind.COMPLAINT,
                email=text(recipient["emailAddress"]),
                message_id=message_id,
                detail=text(complaint.get("complaintFeedbackType")) or None,
            )
            for recipient in complaint.get("complainedRecipients") or []
            if isinstance(recipient, dict) and text(recipient.get("emailAddress"))
        ]
    return []
