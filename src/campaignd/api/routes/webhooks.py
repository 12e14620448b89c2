"""Webhook endpoints: add (the secret is shown once), list, change, remove; recent
messages and attempts; replay one message."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, status

from campaignd.actions import webhooks as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import problem
from campaignd.api.params import MAX_ID
from campaignd.api.routing import ApiRoute
from campaignd.api.webhook_models import (
    Webhook,
    WebhookAttempt,
    WebhookAttemptList,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookMessage,
    WebhookMessageList,
    WebhookUpdate,
)
from campaignd.store.webhooks import Attempt, Message

router = APIRouter(tags=["webhooks"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]
Limit = Annotated[int, Query(ge=1, le=actions.MAX_LIMIT)]
WebhookId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The webhook endpoint's id", examples=[1])
]
MessageId = Annotated[
    str, Path(min_length=1, max_length=100, description="The event's id, msg_...")
]


def webhook_model(view: actions.EndpointView) -> Webhook:
    endpoint = view.endpoint
    return Webhook(
        id=endpoint.id,
        organization=view.organization,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        last_error=endpoint.last_error,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def attempt_model(attempt: Attempt) -> WebhookAttempt:
    return WebhookAttempt(
        id=attempt.id,
        message_id=attempt.message_id,
        event_type=attempt.event_type,
        attempted_at=attempt.attempted_at,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
    )


def message_model(message: Message) -> WebhookMessage:
    return WebhookMessage(
        message_id=message.message_id,
        event_type=message.event_type,
        created_at=message.created_at,
        status=message.status,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at if message.status == "pending" else None,
        last_status_code=message.last_status_code,
        last_error=message.last_error,
        delivered_at=message.delivered_at,
    )


@router.get("/webhooks")
async def list_webhooks(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> WebhookList:
    """The organization's webhook endpoints, with why any is disabled."""
    slug, views = await actions.list_endpoints(services, principal, organization=organization)
    return WebhookList(organization=slug, webhooks=[webhook_model(view) for view in views])


@router.post("/webhooks", status_code=status.HTTP_201_CREATED)
async def add_webhook(
    body: Annotated[WebhookCreate, Body()], services: ServicesDep, principal: PrincipalDep
) -> WebhookCreated:
    """Register an endpoint for some event types. The answer's `secret` (`whsec_...`)
    verifies the signatures; it is stored encrypted and never shown again."""
    created = await actions.add_endpoint(
        services,
        principal,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        organization=body.organization,
    )
    return WebhookCreated(**webhook_model(created.view).model_dump(), secret=created.secret)


@router.get("/webhooks/{webhook_id}")
async def get_webhook(
    webhook_id: WebhookId, services: ServicesDep, principal: PrincipalDep
) -> Webhook:
    return webhook_model(await actions.get_endpoint(services, principal, webhook_id))


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(
    webhook_id: WebhookId,
    body: Annotated[WebhookUpdate, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> Webhook:
    """Change the URL, event types or description; `enabled: true` re-enables a disabled
    endpoint (its pending messages are posted again), `false` disables it."""
    view = await actions.update_endpoint(
        services,
        principal,
        webhook_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
    )
    return webhook_model(view)


@router.delete("/webhooks/{webhook_id}")
async def remove_webhook(
    webhook_id: WebhookId, services: ServicesDep, principal: PrincipalDep
) -> Webhook:
    """Delete an endpoint with its pending messages and history."""
    return webhook_model(await actions.remove_endpoint(services, principal, webhook_id))


@router.get("/webhooks/{webhook_id}/attempts")
async def list_attempts(
    webhook_id: WebhookId, services: ServicesDep, principal: PrincipalDep, limit: Limit = 50
) -> WebhookAttemptList:
    """The endpoint's newest attempts: status code (or the error when there was no
    answer) and duration."""
    view, found = await actions.attempts(services, principal, webhook_id, limit=limit)
    return WebhookAttemptList(
        webhook=webhook_model(view), attempts=[attempt_model(item) for item in found]
    )


@router.get("/webhooks/{webhook_id}/messages")
async def list_messages(
    webhook_id: WebhookId,
    services: ServicesDep,
    principal: PrincipalDep,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    limit: Limit = 50,
) -> WebhookMessageList:
    """The endpoint's newest events: pending (with the next attempt's time), delivered or
    failed (given up after a day of retries)."""
    view, found = await actions.messages(
        services, principal, webhook_id, status=status, limit=limit
    )
    return WebhookMessageList(
        webhook=webhook_model(view), messages=[message_model(item) for item in found]
    )


@router.post(
    "/webhooks/{webhook_id}/messages/{message_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: problem("The endpoint is disabled; enable it first")},
)
async def replay_message(
    webhook_id: WebhookId, message_id: MessageId, services: ServicesDep, principal: PrincipalDep
) -> WebhookMessage:
    """Post one event again, now, with the same `webhook-id` and body."""
    return message_model(await actions.replay(services, principal, webhook_id, message_id))
