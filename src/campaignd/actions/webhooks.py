"""Webhook endpoints of an organization: add (the signing secret is shown once), list,
change, enable or disable, remove; their recent messages and attempts; replay a message.

An endpoint id of another organization is answered as unknown (404), never as forbidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.delivery.webhook_secrets import SECRET_NAME, seal, seal_context
from campaignd.domain.webhooks import (
    WebhookProblem,
    checked_event_types,
    checked_url,
    new_secret,
)
from campaignd.store import audit
from campaignd.store import webhooks as store
from campaignd.store.columns import utcnow
from campaignd.store.organizations import organization_by_id
from campaignd.store.secrets import instance_secret
from campaignd.store.webhooks import MESSAGE_STATUSES, Attempt, Endpoint, Message

MAX_DESCRIPTION = 200
MAX_LIMIT = 500
MAX_ID = 2**63 - 1
"""The largest id the database stores: a larger one is unknown, never looked up."""


@dataclass(frozen=True)
class EndpointView:
    organization: str
    endpoint: Endpoint


@dataclass(frozen=True)
class Created:
    """A new endpoint and its signing secret, shown this once."""

    view: EndpointView
    secret: str = field(repr=False)


def _url(services: Services, url: str) -> str:
    try:
        return checked_url(
            url,
            allow_loopback=services.settings.webhook_allow_loopback,
            allow_private=services.settings.webhook_allow_private,
        )
    except WebhookProblem as problem:
        raise Invalid(str(problem)) from None


def _types(event_types: Sequence[str]) -> tuple[str, ...]:
    try:
        return checked_event_types(event_types)
    except WebhookProblem as problem:
        raise Invalid(str(problem)) from None


def _description(description: str) -> str:
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description: longer than {MAX_DESCRIPTION} characters")
    return description


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: must be 1 to {MAX_LIMIT}")
    return limit


async def add_endpoint(
    services: Services,
    principal: Principal,
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    organization: str | None = None,
) -> Created:
    """A new, enabled endpoint; the answer carries its secret (``whsec_...``), which is
    stored encrypted and never shown again."""
    principal.require_change()
    url = _url(services, url)
    types = _types(event_types)
    description = _description(description)
    secret = new_secret()
    sealing = await instance_secret(services.database, SECRET_NAME)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        endpoint = await store.add_endpoint(
            connection,
            organization_id=organization_id,
            url=url,
            description=description,
            event_types=types,
            now=utcnow(),
        )
        context = seal_context(organization_id, endpoint.id)
        await store.set_secret(connection, endpoint.id, seal(secret, sealing, context))
        await audit.record(
            connection,
            actor=principal.actor,
            action="webhook.add",
            organization_id=organization_id,
            target=str(endpoint.id),
            detail={"url": url, "eventTypes": list(types)},
        )
    return Created(EndpointView(slug, endpoint), secret)


async def list_endpoints(
    services: Services, principal: Principal, *, organization: str | None = None
) -> tuple[str, list[EndpointView]]:
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        endpoints = await store.list_endpoints(connection, organization_id=organization_id)
    return slug, [EndpointView(slug, endpoint) for endpoint in endpoints]


async def _found(
    connection: AsyncConnection,
    principal: Principal,
    endpoint_id: int,
    organization: str | None = None,
) -> EndpointView:
    """The endpoint in the principal's scope (and in ``organization``, when named)."""
    if not 1 <= endpoint_id <= MAX_ID:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    endpoint = await store.get_endpoint(connection, endpoint_id, organization_id=principal.scope)
    row = (
        await organization_by_id(connection, endpoint.organization_id)
        if endpoint is not None
        else None
    )
    slug = str(row["slug"]) if row is not None else ""
    if endpoint is None or (organization is not None and organization != slug):
        where = f" in {organization}" if organization is not None else ""
        raise NotFound(f"no webhook endpoint {endpoint_id}{where}")
    return EndpointView(slug, endpoint)


async def get_endpoint(
    services: Services, principal: Principal, endpoint_id: int, *, organization: str | None = None
) -> EndpointView:
    async with services.database.connection() as connection:
        return await _found(connection, principal, endpoint_id, organization)


async def update_endpoint(
    services: Services,
    principal: Principal,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    organization: str | None = None,
) -> EndpointView:
    """Change an endpoint. Enabling one that was disabled clears the reason; its messages
    still pending are then posted again."""
    principal.require_change()
    checked_url_value = _url(services, url) if url is not None else None
    types = _types(event_types) if event_types is not None else None
    text = _description(description) if description is not None else None
    async with services.database.transaction() as connection:
        view = await _found(connection, principal, endpoint_id, organization)
        changed = await store.update_endpoint(
            connection,
            endpoint_id,
            organization_id=view.endpoint.organization_id,
            now=utcnow(),
            url=checked_url_value,
            description=text,
            event_types=types,
            enabled=enabled,
        )
        assert changed is not None
        detail: dict[str, object] = {}
        if checked_url_value is not None:
            detail["url"] = checked_url_value
        if types is not None:
            detail["eventTypes"] = list(types)
        if enabled is not None:
            detail["enabled"] = enabled
        await audit.record(
            connection,
            actor=principal.actor,
            action="webhook.update",
            organization_id=changed.organization_id,
            target=str(endpoint_id),
            detail=detail,
        )
    return EndpointView(view.organization, changed)


async def remove_endpoint(
    services: Services, principal: Principal, endpoint_id: int, *, organization: str | None = None
) -> EndpointView:
    """Delete an endpoint with its pending messages and its history."""
    principal.require_change()
    async with services.database.transaction() as connection:
        view = await _found(connection, principal, endpoint_id, organization)
        await store.remove_endpoint(
            connection, endpoint_id, organization_id=view.endpoint.organization_id
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="webhook.remove",
            organization_id=view.endpoint.organization_id,
            target=str(endpoint_id),
            detail={"url": view.endpoint.url},
        )
    return view


async def attempts(
    services: Services,
    principal: Principal,
    endpoint_id: int,
    *,
    limit: int = 50,
    organization: str | None = None,
) -> tuple[EndpointView, list[Attempt]]:
    """The endpoint and its newest attempts (status code or error, duration)."""
    limit = _limit(limit)
    async with services.database.connection() as connection:
        view = await _found(connection, principal, endpoint_id, organization)
        found = await store.list_attempts(connection, endpoint_id, limit=limit)
    return view, found


async def messages(
    services: Services,
    principal: Principal,
    endpoint_id: int,
    *,
    status: str | None = None,
    limit: int = 50,
    organization: str | None = None,
) -> tuple[EndpointView, list[Message]]:
    """The endpoint and its newest messages (pending, delivered or failed)."""
    limit = _limit(limit)
    if status is not None and status not in MESSAGE_STATUSES:
        raise Invalid(f"status: must be one of {', '.join(MESSAGE_STATUSES)}")
    async with services.database.connection() as connection:
        view = await _found(connection, principal, endpoint_id, organization)
        found = await store.list_messages(connection, endpoint_id, status=status, limit=limit)
    return view, found


async def replay(
    services: Services,
    principal: Principal,
    endpoint_id: int,
    message_id: str,
    *,
    organization: str | None = None,
) -> Message:
    """Post a message again (same id, same body), now. 409 while the endpoint is disabled:
    enable it first."""
    principal.require_change()
    async with services.database.transaction() as connection:
        view = await _found(connection, principal, endpoint_id, organization)
        if not view.endpoint.enabled:
            raise Conflict(
                f"endpoint {endpoint_id} is disabled ({view.endpoint.disabled_reason}); "
                "enable it first"
            )
        message = await store.replay(connection, endpoint_id, message_id, now=utcnow())
        if message is None:
            raise NotFound(f"no message {message_id} for webhook endpoint {endpoint_id}")
        await audit.record(
            connection,
            actor=principal.actor,
            action="webhook.replay",
            organization_id=view.endpoint.organization_id,
            target=str(endpoint_id),
            detail={"messageId": message_id, "eventType": message.event_type},
        )
    return message
