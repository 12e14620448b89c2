"""Postmark's bounce and spam complaint webhooks. Postmark signs nothing: the webhook's
URL carries Basic auth (``https://postmark:SECRET@host/webhooks/bounces/postmark/ORG``),
and the password must be ``POSTMARK_WEBHOOK_SECRET`` (compared in constant time).

``Type`` decides (Postmark's ``TypeCode`` is not reliable for complaints): HardBounce and
BadEmailAddress are hard bounces; SoftBounce, Transient and DnsError soft ones;
SpamComplaint a complaint. Others (auto-responders, blocks, subscription changes) are
ignored. A record is known by ``RecordType`` and ``ID``: seen again, it is a replay.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from campaignd.domain.feedback import FeedbackKind
from campaignd.feedback.providers import ProviderEvent, Verified, WebhookRefused, json_body, text

KINDS = {
    "HardBounce": FeedbackKind.HARD_BOUNCE,
    "BadEmailAddress": FeedbackKind.HARD_BOUNCE,
    "SoftBounce": FeedbackKind.SOFT_BOUNCE,
    "Transient": FeedbackKind.SOFT_BOUNCE,
    "DnsError": FeedbackKind.SOFT_BOUNCE,
    "SpamComplaint": FeedbackKind.COMPLAINT,
}


def check_credentials(authorization: str, *, secret: str) -> None:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRefused(401, "authorization: Basic credentials are required")
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise WebhookRefused(401, "authorization: unreadable credentials") from None
    if not hmac.compare_digest(password.encode(), secret.encode()):
        raise WebhookRefused(401, "authorization: wrong credentials")


def verify(body: bytes, *, authorization: str, secret: str) -> Verified:
    check_credentials(authorization, secret=secret)
    record = json_body(body)
    if not isinstance(record, dict):
        raise WebhookRefused(400, "body: a JSON object is expected")
    record_type, record_id = text(record.get("RecordType")), str(record.get("ID", ""))
    if not record_type or not record_id:
        raise WebhookRefused(400, "body: RecordType and ID are required")
    event_id = f"{record_type}:{record_id}"
    kind = KINDS.get(text(record.get("Type")))
    email = text(record.get("Email"))
    if kind is None or not email:
        return Verified(replay_token=event_id)
    detail = text(record.get("Details")) or text(record.get("Description")) or None
    event = ProviderEvent(event_id=event_id, kind=kind, email=email, detail=detail)
    return Verified(replay_token=event_id, events=[event])
