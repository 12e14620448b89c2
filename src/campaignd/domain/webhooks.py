"""Webhooks, the pure part: event types, which URLs may receive them, the Standard Webhooks
signature, the envelope of an event and the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

EVENT_TYPES = (
    "sent",
    "failed",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
    "campaign.started",
    "campaign.finished",
)
SECRET_PREFIX = "whsec_"
MESSAGE_PREFIX = "msg_"
MAX_URL_LENGTH = 2000

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
)
"""The wait after each failed attempt; after the last one (about 23.7 hours after the
first try, eleven attempts in all) the message is given up."""

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class WebhookProblem(ValueError):
    """Something wrong with what a user gave (a URL, an event type); says what, in words."""


def checked_event_types(values: Iterable[str]) -> tuple[str, ...]:
    """Known event types, deduplicated, in the order of ``EVENT_TYPES``; at least one."""
    chosen = {value.strip() for value in values if value.strip()}
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise WebhookProblem(
            f"eventTypes: unknown event type '{unknown[0]}'; choose among {', '.join(EVENT_TYPES)}"
        )
    if not chosen:
        raise WebhookProblem("eventTypes: choose at least one event type")
    return tuple(kind for kind in EVENT_TYPES if kind in chosen)


def refused_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    *,
    allow_loopback: bool,
    allow_private: bool,
) -> str | None:
    """Why a webhook may not be delivered to ``address`` (None: it may).

    Loopback and private networks are refused unless allowed; link-local (cloud metadata
    services live at 169.254.169.254), multicast, unspecified and reserved addresses always.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "not a unicast internet address"
    if address.is_private or not address.is_global:
        return None if allow_private else "a private network address"
    return None


def checked_url(url: str, *, allow_loopback: bool, allow_private: bool) -> str:
    """A URL webhooks may be sent to: https (http only to a loopback address, and only when
    loopback is allowed), a host, no user name or password. A host given as an IP address is
    checked here; names are checked when resolved, at every delivery."""
    url = url.strip()
    if not url:
        raise WebhookProblem("url: required")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookProblem(f"url: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookProblem("url: not a URL (like https://app.example.org/hooks)") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookProblem("url: must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookProblem("url: must not carry a user name or password")
    if port == 0:
        raise WebhookProblem("url: port 0 is not a port")
    address = _address(host)
    loopback = host in LOOPBACK_NAMES or (address is not None and address.is_loopback)
    if parts.scheme == "http" and not (loopback and allow_loopback):
        raise WebhookProblem("url: must use https (http only to loopback, for tests)")
    if host in LOOPBACK_NAMES and not allow_loopback:
        raise WebhookProblem("url: refused: a loopback address")
    if address is not None:
        reason = refused_address(
            address, allow_loopback=allow_loopback, allow_private=allow_private
        )
        if reason is not None:
            raise WebhookProblem(f"url: refused: {host} is {reason}")
    return url


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def new_secret() -> str:
    """A signing secret as shown: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (its base64 part, decoded)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def new_message_id() -> str:
    """The id of one event: ``msg_`` and 24 random characters; the same on every retry."""
    return MESSAGE_PREFIX + secrets.token_urlsafe(18)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` (Standard Webhooks)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "campaignd-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def body(event_type: str, created_at: datetime, data: Mapping[str, Any]) -> bytes:
    """The JSON body of an event: ``type``, ``timestamp`` (when it happened) and ``data``;
    the same bytes on every retry."""
    document = {
        "type": event_type,
        "timestamp": created_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after ``attempts`` failed attempts; None: give up."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1]
