"""From a transport's reply to a delivery outcome: sent, retry later, failed, bounced."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from functools import partial

from campaignd.delivery.transports import Reply
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.store.queue import Outcome

MAX_BACKOFF_SECONDS = 6 * 3600.0
UNKNOWN_USER_CODES = {550, 551, 553}
UNKNOWN_USER = re.compile(r"\b5\.1\.1\b|user unknown|unknown user|no such user", re.IGNORECASE)


def is_unknown_user(reply: Reply) -> bool:
    """A permanent "no such user" answer: the address should be suppressed as bounced."""
    return reply.code in UNKNOWN_USER_CODES and bool(UNKNOWN_USER.search(reply.text))


def backoff(attempts: int, base: float) -> float:
    """Seconds before the next try: ``base * 2^(attempts-1)``, jittered to 50-100 %."""
    delay = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempts - 1))
    return delay * (0.5 + random.random() / 2)


def outcome_of(
    reply: Reply,
    *,
    delivery_id: int,
    campaign_id: int,
    email: str,
    attempts: int,
    max_attempts: int,
    retry_backoff: float,
    now: datetime,
) -> Outcome:
    """2xx sent; 5xx failed (bounced when no such user); 4xx or no answer: retry or failed."""
    text = str(reply)
    new = partial(Outcome, delivery_id=delivery_id, campaign_id=campaign_id, email=email)
    if reply.accepted:
        return new(status=DeliveryStatus.SENT, reply=text)
    if reply.code is not None and reply.code >= 500:
        bounced = "bounced" if is_unknown_user(reply) else None
        return new(status=DeliveryStatus.FAILED, error=text, suppress_as=bounced)
    if attempts >= max_attempts:
        error = f"{text} (gave up after {attempts} attempts)"
        return new(status=DeliveryStatus.FAILED, error=error)
    later = now + timedelta(seconds=backoff(attempts, retry_backoff))
    return new(status=DeliveryStatus.QUEUED, error=text, next_attempt_at=later)


def failed(delivery_id: int, campaign_id: int, email: str, error: str) -> Outcome:
    """A delivery that cannot succeed whatever the server says (a template error)."""
    return Outcome(
        delivery_id=delivery_id,
        campaign_id=campaign_id,
        email=email,
        status=DeliveryStatus.FAILED,
        error=error,
    )
