"""SendGrid's signed Event Webhook: a JSON array of events, signed with ECDSA (P-256,
SHA-256) over ``timestamp + body``; the signature (base64 DER) and the timestamp come in
``X-Twilio-Email-Event-Webhook-Signature`` and ``-Timestamp``, and the public key
(``SENDGRID_WEBHOOK_PUBLIC_KEY``) is the base64 DER key SendGrid's settings show. A
timestamp older than ``WEBHOOK_MAX_AGE`` is refused; a signature seen before is a replay.

``bounce`` of ``type`` ``bounce`` is a hard bounce (``blocked`` ones are the receiver's
policy and are ignored, as are ``dropped``: SendGrid's own suppression list), and
``spamreport`` a complaint.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from campaignd.domain.feedback import FeedbackKind
from campaignd.feedback.providers import (
    ProviderEvent,
    Verified,
    WebhookRefused,
    bracketed,
    json_body,
    text,
)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_EVENTS = 1000


def public_key(encoded: str) -> ec.EllipticCurvePublicKey:
    """The key of ``SENDGRID_WEBHOOK_PUBLIC_KEY``; ValueError when it is not one."""
    try:
        key = load_der_public_key(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve public key")
    return key


def verify(
    body: bytes, *, signature: str, timestamp: str, key: str, now: float, max_age: float
) -> Verified:
    if not signature or not timestamp:
        raise WebhookRefused(401, f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    try:
        public_key(key).verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise WebhookRefused(401, "signature: does not verify") from None
    try:
        age = now - float(timestamp)
    except ValueError:
        raise WebhookRefused(401, "signature: timestamp is not a number") from None
    if abs(age) > max_age:
        raise WebhookRefused(401, "signature: timestamp too old")
    events = json_body(body)
    if not isinstance(events, list):
        raise WebhookRefused(400, "body: a JSON array of events is expected")
    found = [event for item in events[:MAX_EVENTS] if (event := _event(item)) is not None]
    return Verified(replay_token=signature, events=found)


def _event(item: object) -> ProviderEvent | None:
    if not isinstance(item, dict):
        return None
    event, email = text(item.get("event")), text(item.get("email"))
    kind = None
    if event == "spamreport":
        kind = FeedbackKind.COMPLAINT
    elif event == "bounce" and text(item.get("type")) in ("", "bounce"):
        kind = FeedbackKind.HARD_BOUNCE
    event_id = text(item.get("sg_event_id"))
    if kind is None or not email or not event_id:
        return None
    detail = " ".join(part for part in (text(item.get("status")), text(item.get("reason"))) if part)
    return ProviderEvent(
        event_id=event_id,
        kind=kind,
        email=email,
        message_id=bracketed(text(item.get("smtp-id"))),
        detail=detail or None,
    )
