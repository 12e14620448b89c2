"""Bounces and complaints from the webhooks of email providers (Amazon SES through SNS,
Postmark, SendGrid, Mailgun): each request is verified its provider's way, refused when
it was seen before, and its events applied (``actions.feedback``) for the organization
its URL names.

A request that does not verify, or is a replay, is refused and changes nothing. Events are
tied to a delivery by our Message-ID when the provider gives it back, or else to the latest
delivery to the address among the organization's campaigns; a delivery of another
organization is never touched (``actions.feedback``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from campaignd.actions.errors import Conflict, NotFound
from campaignd.actions.feedback import apply_event
from campaignd.actions.services import Services
from campaignd.domain.feedback import FeedbackEvent, FeedbackSource, delivery_of_message_id
from campaignd.feedback import mailgun, postmark, sendgrid, ses
from campaignd.feedback.providers import Verified, WebhookRefused
from campaignd.settings import Settings
from campaignd.store import feedback as store
from campaignd.store.columns import utcnow
from campaignd.store.organizations import organization_by_slug
from campaignd.store.secrets import installation_id

TOKENS_KEPT_FOR = 2
"""Replay tokens are kept this many times ``WEBHOOK_MAX_AGE`` (a request older than that is
refused by its timestamp; twice leaves room for a provider's clock ahead of ours)."""
TIMESTAMPED = ("mailgun", "sendgrid", "ses")
"""Providers whose requests carry a signed timestamp; Postmark's do not, so its tokens are
kept (its events are also applied once per event id, ``store.feedback``)."""

PROVIDERS = {
    "ses": FeedbackSource.SES,
    "postmark": FeedbackSource.POSTMARK,
    "sendgrid": FeedbackSource.SENDGRID,
    "mailgun": FeedbackSource.MAILGUN,
}


@dataclass(frozen=True)
class Received:
    events: int
    applied: int


def configured(settings: Settings, provider: str) -> bool:
    secret = {
        "ses": settings.ses_topic_arns.strip(),
        "postmark": settings.postmark_webhook_secret,
        "sendgrid": settings.sendgrid_webhook_public_key,
        "mailgun": settings.mailgun_signing_key,
    }.get(provider)
    return bool(secret)


def topics(settings: Settings) -> frozenset[str]:
    return frozenset(item.strip() for item in settings.ses_topic_arns.split(",") if item.strip())


async def _verify(
    settings: Settings, provider: str, headers: Mapping[str, str], body: bytes
) -> Verified:
    now, max_age = time.time(), settings.webhook_max_age
    if provider == "ses":
        return await ses.verify(body, topics=topics(settings), now=now, max_age=max_age)
    if provider == "postmark":
        assert settings.postmark_webhook_secret
        return postmark.verify(
            body,
            authorization=headers.get("authorization", ""),
            secret=settings.postmark_webhook_secret,
        )
    if provider == "sendgrid":
        assert settings.sendgrid_webhook_public_key
        return sendgrid.verify(
            body,
            signature=headers.get(sendgrid.SIGNATURE_HEADER.lower(), ""),
            timestamp=headers.get(sendgrid.TIMESTAMP_HEADER.lower(), ""),
            key=settings.sendgrid_webhook_public_key,
            now=now,
            max_age=max_age,
        )
    assert settings.mailgun_signing_key
    return mailgun.verify(body, key=settings.mailgun_signing_key, now=now, max_age=max_age)


async def receive(
    services: Services,
    *,
    provider: str,
    organization: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Received:
    """Verify and apply one webhook request. ``headers`` with lower-case names. Raises
    NotFound (unknown provider, one not set up, unknown organization), WebhookRefused
    (does not verify), Conflict (a replay)."""
    source = PROVIDERS.get(provider)
    if source is None or not configured(services.settings, provider):
        raise NotFound(f"no {provider} webhook here")
    async with services.database.connection() as connection:
        row = await organization_by_slug(connection, organization)
    if row is None:
        raise NotFound(f"no organization '{organization}'")
    organization_id = int(row["id"])
    verified = (await _verify(services.settings, provider, headers, body)).storable()
    if verified.subscribe_url:
        await ses.CLIENT.confirm(verified.subscribe_url)  # before the replay check: SNS retries
    now = utcnow()
    async with services.database.transaction() as connection:
        fresh = await store.remember_token(
            connection, provider=provider, token=verified.replay_token, now=now
        )
        if not fresh:
            raise Conflict("this request was received before (a replay): nothing changed")
        # tokens of requests too old to be accepted again are of no more use
        forgotten = timedelta(seconds=TOKENS_KEPT_FOR * services.settings.webhook_max_age)
        await store.forget_tokens(connection, before=now - forgotten, providers=TIMESTAMPED)
    installation = await installation_id(services.database)
    applied = 0
    for event in verified.events:
        delivery_id = (
            delivery_of_message_id(event.message_id, installation) if event.message_id else None
        )
        if delivery_id is None:
            async with services.database.connection() as connection:
                delivery_id = await store.last_delivery_to(
                    connection, event.email.strip().lower(), organization_id=organization_id
                )
        result = await apply_event(
            services,
            FeedbackEvent(
                source=source,
                event_id=event.event_id,
                kind=event.kind,
                email=event.email,
                delivery_id=delivery_id,
                organization_id=organization_id,
                detail=event.detail,
            ),
        )
        applied += int(result.new)
    return Received(events=len(verified.events), applied=applied)


__all__ = ["PROVIDERS", "Received", "WebhookRefused", "receive"]
