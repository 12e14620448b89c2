"""Whether DNS already serves a DKIM key's record (dnspython, asynchronous).

The resolver is the system's (``/etc/resolv.conf``) unless ``CAMPAIGND_DNS_NAMESERVERS``
names others (``203.0.113.53`` or ``127.0.0.1:5353``, comma-separated): asking the
domain's authoritative server shows a new record before caches expire. Tests point it at
a stub server on the loopback interface.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from campaignd.domain.dkim import UNKNOWN, published_status, record_name
from campaignd.settings import Settings, nameserver_addresses


@dataclass(frozen=True)
class DnsStatus:
    """``published``, ``not published``, ``differs`` or ``unknown`` (the lookup failed:
    ``error`` says why), and the TXT records found at the key's name."""

    status: str
    records: tuple[str, ...] = ()
    error: str | None = None


class LookupFailed(Exception):
    """DNS gave no answer either way (timeout, server failure, no resolver configured)."""


class TxtLookup:
    """TXT records by name, with one deadline per lookup."""

    def __init__(self, nameservers: str = "", timeout: float = 3.0) -> None:
        self.nameservers = nameservers
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> TxtLookup:
        return cls(settings.dns_nameservers, settings.dns_timeout)

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if not self.nameservers.strip():
            return dns.asyncresolver.Resolver()
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port)
            for address, port in nameserver_addresses(self.nameservers)
        ]
        return resolver

    async def txt(self, name: str) -> list[str]:
        """The TXT records at ``name`` (each record's strings joined); [] when the name or
        the record does not exist; LookupFailed when DNS does not say."""
        try:
            answer = await self._resolver().resolve(
                name, "TXT", lifetime=self.timeout, search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers:
            raise LookupFailed("no name server answered (SERVFAIL or refused)") from None
        except dns.exception.Timeout:
            raise LookupFailed(f"no answer within {self.timeout:g} s") from None
        except (dns.exception.DNSException, OSError, ValueError) as error:
            raise LookupFailed(str(error) or type(error).__name__) from None
        return [b"".join(record.strings).decode("ascii", "replace") for record in answer]

    async def status(
        self, selector: str, domain: str, algorithm: str, public_key: str
    ) -> DnsStatus:
        """Whether the key's record is published as it should be."""
        try:
            records = await self.txt(record_name(selector, domain))
        except LookupFailed as error:
            return DnsStatus(UNKNOWN, error=str(error))
        return DnsStatus(published_status(algorithm, public_key, records), tuple(records))

    async def statuses(self, keys: list[tuple[str, str, str, str]]) -> list[DnsStatus]:
        """``status`` of each (selector, domain, algorithm, public key), looked up together."""
        return list(await asyncio.gather(*(self.status(*key) for key in keys)))
