"""Mailgun's webhooks: ``{"signature": {"timestamp", "token", "signature"}, "event-data":
{...}}``. The signature is the hex HMAC-SHA256 of ``timestamp + token`` under the
domain's webhook signing key (``MAILGUN_SIGNING_KEY``); a timestamp older than
``WEBHOOK_MAX_AGE`` is refused, and a token seen before is a replay.

``failed`` with ``severity`` ``permanent`` is a hard bounce, ``temporary`` a soft one;
``complained`` is a complaint. A ``failed`` Mailgun gave for its own suppression list
(``reason`` ``suppress-bounce``...) is not a new bounce, and other events are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from campaignd.domain.feedback import FeedbackKind
from campaignd.feedback.providers import (
    ProviderEvent,
    Verified,
    WebhookRefused,
    bracketed,
    json_body,
    text,
)

SUPPRESSED_REASONS = frozenset({"suppress-bounce", "suppress-complaint", "suppress-unsubscribe"})


def sign(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify(body: bytes, *, key: str, now: float, max_age: float) -> Verified:
    document = json_body(body)
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict):
        raise WebhookRefused(401, "signature: missing")
    timestamp, token = text(signature.get("timestamp")), text(signature.get("token"))
    given = text(signature.get("signature"))
    if not (timestamp and token and given):
        raise WebhookRefused(401, "signature: timestamp, token and signature are required")
    if not hmac.compare_digest(sign(key, timestamp, token), given.lower()):
        raise WebhookRefused(401, "signature: does not verify")
    try:
        age = now - float(timestamp)
    except ValueError:
        raise WebhookRefused(401, "signature: timestamp is not a number") from None
    if abs(age) > max_age:
        raise WebhookRefused(401, "signature: timestamp too old")
    data = document.get("event-data")
    events = _events(data) if isinstance(data, dict) else []
    return Verified(replay_token=token, events=events)


def _events(data: dict[str, Any]) -> list[ProviderEvent]:
    event, severity = text(data.get("event")), text(data.get("severity"))
    kind = None
    if event == "complained":
        kind = FeedbackKind.COMPLAINT
    elif event == "failed" and text(data.get("reason")) not in SUPPRESSED_REASONS:
        kind = {"permanent": FeedbackKind.HARD_BOUNCE, "temporary": FeedbackKind.SOFT_BOUNCE}.get(
            severity
        )
    recipient = text(data.get("recipient"))
    if kind is None or not recipient:
        return []
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    message_id = text(headers.get("message-id")) if isinstance(headers, dict) else ""
    status = data.get("delivery-status")
    detail = None
    if isinstance(status, dict):
        detail = f"{status.get('code', '')} {text(status.get('message'))}".strip() or None
    return [
        ProviderEvent(
            event_id=f"{text(data.get('id'))}:{recipient}",
            kind=kind,
            email=recipient,
            message_id=bracketed(message_id),
            detail=detail,
        )
    ]
