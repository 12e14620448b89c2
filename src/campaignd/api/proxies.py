"""``TRUSTED_PROXIES``: who may say, in ``X-Forwarded-For`` and ``X-Forwarded-Proto``, which
client and scheme a request really came from.

Only a request whose peer address is one of the trusted proxies is rewritten; from anyone
else both headers are ignored, since anyone can send them. The client is the right-most
address of ``X-Forwarded-For`` that is not itself a trusted proxy (what the nearest proxy
saw), never the left-most one a client could have written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> list[Network]:
    """``127.0.0.1, 10.0.0.0/8, ::1`` -> networks; ValueError names a bad entry."""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"'{item}' is not an IP address or network") from None
    return networks


def _within(host: str, networks: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def forwarded_client(header: str, networks: list[Network]) -> str | None:
    """The client named by an ``X-Forwarded-For`` chain, seen through trusted proxies."""
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, networks):
            return hop
    return hops[0] if hops else None


class TrustedProxies:
    """ASGI middleware: the real client and scheme of requests that came through a proxy."""

    def __init__(self, app: ASGIApp, *, networks: list[Network]) -> None:
        self.app = app
        self.networks = networks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and peer and _within(str(peer[0]), self.networks):
            forwarded_for: list[str] = []
            proto = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded_for.append(value.decode("latin-1"))
                elif name == b"x-forwarded-proto":
                    proto = value.decode("latin-1").split(",")[-1].strip().lower()
            scope = dict(scope)
            if proto in ("http", "https"):
                scope["scheme"] = proto
            client = forwarded_client(",".join(forwarded_for), self.networks)
            if client:
                scope["client"] = (client, 0)
        await self.app(scope, receive, send)
