"""Request and answer models of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from campaignd.api.models import RequestModel, ResponseModel

EventType = Literal[
    "sent",
    "failed",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
    "campaign.started",
    "campaign.finished",
]


class WebhookCreate(RequestModel):
    url: str = Field(max_length=2000, description="https URL that receives the POSTs")
    event_types: list[EventType] = Field(min_length=1, max_length=20)
    description: str = Field("", max_length=200)
    organization: str | None = Field(None, max_length=63)


class WebhookUpdate(RequestModel):
    url: str | None = Field(None, max_length=2000)
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=20)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(
        None, description="true re-enables a disabled endpoint (its pending messages resume)"
    )


class Webhook(ResponseModel):
    id: int
    organization: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    """Why the endpoint is disabled: by an administrator, or failing for a day, or 410."""
    disabled_at: datetime | None
    failing_since: datetime | None
    """The first failed attempt since the last success (None: the last attempt succeeded)."""
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    secret: str
    """The signing secret (``whsec_...``): shown this once, keep it."""


class WebhookList(ResponseModel):
    organization: str
    webhooks: list[Webhook]


class WebhookAttempt(ResponseModel):
    id: int
    message_id: str
    event_type: str
    attempted_at: datetime
    status_code: int | None
    """The HTTP status answered; None when there was no answer (see ``error``)."""
    error: str | None
    duration_ms: int


class WebhookAttemptList(ResponseModel):
    webhook: Webhook
    attempts: list[WebhookAttempt]


class WebhookMessage(ResponseModel):
    message_id: str
    event_type: str
    created_at: datetime
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


class WebhookMessageList(ResponseModel):
    webhook: Webhook
    messages: list[WebhookMessage]
