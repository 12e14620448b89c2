"""What the provider webhooks have in common: the events they carry, and why a request is
refused."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from campaignd.domain.feedback import FeedbackKind, storable


class WebhookRefused(Exception):
    """The request is refused and changes nothing: ``status`` is the HTTP status (401 for a
    signature or credentials that do not verify, 400 for a body that cannot be read)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str
    kind: FeedbackKind
    email: str
    message_id: str | None = None
    """Our Message-ID of the message, when the provider gives it back."""
    detail: str | None = None


@dataclass(frozen=True)
class Verified:
    """A request whose signature or credentials verified."""

    replay_token: str
    """What makes this request unique: one seen again is a replay."""
    events: list[ProviderEvent] = field(default_factory=list)
    subscribe_url: str | None = None
    """Amazon SNS: the URL that confirms a subscription."""

    def storable(self) -> Verified:
        """The token and the events with every NUL character made U+FFFD
        (``domain.feedback.storable``), once the signature was checked on what came."""
        events = [
            replace(
                event,
                event_id=storable(event.event_id),
                email=storable(event.email),
                message_id=None if event.message_id is None else storable(event.message_id),
                detail=None if event.detail is None else storable(event.detail),
            )
            for event in self.events
        ]
        return replace(self, replay_token=storable(self.replay_token), events=events)


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "body: not JSON") from None


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


def bracketed(message_id: str) -> str | None:
    """A Message-ID with its angle brackets (providers often drop them)."""
    value = message_id.strip()
    if not value:
        return None
    return value if value.startswith("<") else f"<{value}>"
