"""The HTTP client webhooks are posted with: short timeouts, no redirects, no proxies from
the environment, a bounded read of the answer, and a guard on every address it connects to.

The guard resolves the host itself and refuses the connection when any address it resolves
to is refused by ``domain.webhooks.refused_address`` (loopback, private networks, link-local
such as the cloud metadata service at 169.254.169.254), then connects to the address it
checked: a name that resolves to a public address when the endpoint is registered and to a
private one later (DNS rebinding) is refused at delivery.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping

import httpcore

from campaignd.domain.webhooks import refused_address
from campaignd.store.webhooks import Result

MAX_ANSWER_BYTES = 64 * 1024


class AddressRefused(httpcore.ConnectError):
    pass


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, *, allow_loopback: bool, allow_private: bool) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._checked_address(host, port, timeout)
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks are not sent to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    async def _checked_address(self, host: str, port: int, timeout: float | None) -> str:
        try:
            found = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                timeout,
            )
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        addresses = [ipaddress.ip_address(str(item[4][0]).split("%")[0]) for item in found]
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            reason = refused_address(
                address, allow_loopback=self.allow_loopback, allow_private=self.allow_private
            )
            if reason is not None:
                raise AddressRefused(f"refused: {host} resolves to {address}, {reason}")
        return str(addresses[0])


class WebhookClient:
    """Posts one body; answers a ``Result`` (never raises for a network problem)."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_loopback: bool,
        allow_private: bool,
        connections: int = 100,
    ) -> None:
        self.timeout = timeout
        self.pool = httpcore.AsyncConnectionPool(
            max_connections=connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(
                allow_loopback=allow_loopback, allow_private=allow_private
            ),
        )

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Result:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status, error = await asyncio.wait_for(self._post(url, headers, body), self.timeout)
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except AddressRefused as refused:
            error = str(refused)
        except httpcore.TimeoutException as timeout:
            error = f"timed out: {timeout or 'no answer'}"
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as problem:
            error = f"{type(problem).__name__}: {problem}".rstrip(": ")
        except httpcore.UnsupportedProtocol as problem:
            error = str(problem)
        duration = int((time.perf_counter() - started) * 1000)
        return Result(status_code=status, error=error, duration_ms=duration)

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str | None]:
        phases = {"connect": self.timeout, "read": self.timeout, "write": self.timeout}
        async with self.pool.stream(
            "POST",
            url,
            headers=[(name.encode(), value.encode()) for name, value in headers.items()],
            content=body,
            extensions={"timeout": phases | {"pool": self.timeout}},
        ) as response:
            read = 0
            async for chunk in response.aiter_stream():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
            reason = response.extensions.get("reason_phrase", b"")
            text = reason.decode("latin-1") if isinstance(reason, bytes) else str(reason)
            if 200 <= response.status < 300:
                return response.status, None
            return response.status, text or None

    async def close(self) -> None:
        await self.pool.aclose()
