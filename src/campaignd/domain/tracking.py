"""Who fetched a tracking image or followed a tracked link: a person, or a machine.

Mail systems open and click on their own: Apple Mail Privacy Protection fetches every
image of every message through Apple's proxies whether or not anyone reads it, and mail
security scanners fetch images and follow links right after delivery. Counting those as
people would make every campaign look read. Each open and click is recorded either way,
marked with the reason it looks like a machine's (``Machine``), and the report counts
the two apart. The rules are heuristics; docs/tracking.md lists them.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache

PREFETCH_SECONDS = 10.0
"""An open or click this soon after the message was handed to the mail server is a
scanner's: people do not read that fast, security gateways do."""

APPLE_PRIVACY_AGENT = "Mozilla/5.0"
"""The user agent Apple's privacy proxies send: exactly this, nothing after it."""

APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
"""Apple's own address block, which its privacy proxies fetch from."""

SCANNER_WORDS = (
    "bot",
    "crawler",
    "spider",
    "scanner",
    "preview",
    "barracuda",
    "mimecast",
    "proofpoint",
    "ironport",
    "cisco",
    "symantec",
    "messagelabs",
    "trendmicro",
    "forcepoint",
    "sophos",
    "fortinet",
    "zscaler",
    "safelinks",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "curl/",
    "wget",
    "go-http-client",
    "java/",
    "okhttp",
    "headlesschrome",
    "phantomjs",
)
"""Words in the user agents of link scanners, security gateways, crawlers and scripts."""


class Machine(StrEnum):
    APPLE_PRIVACY = "apple_privacy"
    SCANNER = "scanner"
    PREFETCH = "prefetch"


def _apple_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in APPLE_NETWORKS)


@lru_cache(maxsize=1024)
def _scanner_agent(agent: str) -> bool:
    """Whether the user agent names a scanner, gateway or script (the same few agents
    come again and again: each is read once)."""
    lowered = agent.lower()
    return any(word in lowered for word in SCANNER_WORDS)


def machine_reason(
    user_agent: str | None,
    address: str | None,
    *,
    seconds_since_sent: float | None,
    opening: bool,
) -> Machine | None:
    """Why this fetch looks like a machine's, or None for a person's.

    ``opening``: an open (Apple's proxies fetch images, they do not follow links);
    ``seconds_since_sent``: since the message was handed over (None: unknown).
    """
    agent = (user_agent or "").strip()
    if opening and (agent == APPLE_PRIVACY_AGENT or _apple_address(address)):
        return Machine.APPLE_PRIVACY
    if not agent or _scanner_agent(agent):
        return Machine.SCANNER
    if seconds_since_sent is not None and seconds_since_sent < PREFETCH_SECONDS:
        return Machine.PREFETCH
    return None
