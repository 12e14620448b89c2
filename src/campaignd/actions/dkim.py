"""DKIM keys of an organization's sending domains: add (generate or import), list with the
DNS record to publish and whether DNS serves it, remove; and whether a campaign is signed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.delivery import dkim
from campaignd.delivery.dkim_dns import DnsStatus, TxtLookup
from campaignd.delivery.encoding import mailbox
from campaignd.domain.addresses import domain_of
from campaignd.domain.dkim import (
    DkimProblem,
    checked_algorithm,
    checked_domain,
    checked_selector,
    record_name,
    record_value,
    signing_domains,
)
from campaignd.store import audit
from campaignd.store import dkim_keys as store
from campaignd.store.columns import utcnow
from campaignd.store.dkim_keys import DkimKey
from campaignd.store.secrets import instance_secret

MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class KeyView:
    """A key as shown: its DNS record, and (when checked) whether DNS serves it."""

    organization: str
    key: DkimKey
    dns: DnsStatus | None = None

    @property
    def record_name(self) -> str:
        return record_name(self.key.selector, self.key.domain)

    @property
    def record_value(self) -> str:
        return record_value(self.key.algorithm, self.key.public_key)


@dataclass(frozen=True)
class Signing:
    """How a campaign's messages are signed: the From domain, the domain whose keys sign
    (itself or a parent) and those keys' selectors and algorithms; none: sent unsigned."""

    from_domain: str
    domain: str | None
    keys: tuple[tuple[str, str], ...]  # (selector, algorithm)

    @property
    def signed(self) -> bool:
        return bool(self.keys)

    @property
    def note(self) -> str:
        if not self.keys:
            return f"sent unsigned: no DKIM key for {self.from_domain}"
        selectors = ", ".join(f"{selector} ({algorithm})" for selector, algorithm in self.keys)
        return f"signed with DKIM as {self.domain}: {selectors}"


def _checked(problem: DkimProblem) -> Invalid:
    return Invalid(str(problem))


async def add_key(
    services: Services,
    principal: Principal,
    *,
    domain: str,
    selector: str,
    algorithm: str | None = None,
    private_pem: bytes | None = None,
    organization: str | None = None,
) -> KeyView:
    """Store a key for ``domain`` and ``selector``: the one in ``private_pem``, else a new one
    (RSA-2048 unless ``algorithm`` says ed25519). The private key is sealed at once and never
    shown again; the answer carries the DNS record to publish."""
    principal.require_change()
    try:
        domain = checked_domain(domain)
        selector = checked_selector(selector)
        chosen = checked_algorithm(algorithm) if algorithm is not None else None
        if private_pem is not None:
            if len(private_pem) > MAX_KEY_FILE_BYTES:
                raise DkimProblem("key file: too large for a private key")
            pair = dkim.key_from_pem(private_pem, chosen)
        else:
            pair = await asyncio.to_thread(dkim.generate_key, chosen or "rsa")
    except DkimProblem as problem:
        raise _checked(problem) from None
    secret = await instance_secret(services.database, dkim.SECRET_NAME)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        context = dkim.seal_context(organization_id, domain, selector)
        key = await store.add_key(
            connection,
            organization_id=organization_id,
            domain=domain,
            selector=selector,
            algorithm=pair.algorithm,
            sealed=dkim.seal(pair.private_pem, secret, context),
            public_key=pair.public_key,
            now=utcnow(),
        )
        if key is None:
            raise Conflict(
                f"selector: {slug} already has a key for {record_name(selector, domain)}; "
                "remove it first, or choose another selector"
            )
        await audit.record(
            connection,
            actor=principal.actor,
            action="dkim.add",
            organization_id=organization_id,
            target=record_name(selector, domain),
            detail={
                "domain": domain,
                "selector": selector,
                "algorithm": pair.algorithm,
                "generated": private_pem is None,
            },
        )
    return KeyView(slug, key)


async def list_keys(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    check_dns: bool = True,
    lookup: TxtLookup | None = None,
) -> tuple[str, list[KeyView]]:
    """The organization and its keys, each with whether DNS serves its record (looked up
    together, each within ``DNS_TIMEOUT``) unless ``check_dns`` is off."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        keys = await store.list_keys(connection, organization_id=organization_id)
    if not check_dns or not keys:
        return slug, [KeyView(slug, key) for key in keys]
    lookup = lookup or TxtLookup.from_settings(services.settings)
    statuses = await lookup.statuses(
        [(key.selector, key.domain, key.algorithm, key.public_key) for key in keys]
    )
    return slug, [KeyView(slug, key, status) for key, status in zip(keys, statuses, strict=True)]


async def remove_key(
    services: Services,
    principal: Principal,
    *,
    domain: str,
    selector: str,
    organization: str | None = None,
) -> KeyView:
    """Delete a key: messages from its domain are no longer signed with it (from the next
    campaign a worker loads; one sending now keeps the keys it loaded)."""
    principal.require_change()
    try:
        domain = checked_domain(domain)
        selector = checked_selector(selector)
    except DkimProblem as problem:
        raise _checked(problem) from None
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        key = await store.remove_key(
            connection, organization_id=organization_id, domain=domain, selector=selector
        )
        if key is None:
            raise NotFound(f"no DKIM key {record_name(selector, domain)} in {slug}")
        await audit.record(
            connection,
            actor=principal.actor,
            action="dkim.remove",
            organization_id=organization_id,
            target=record_name(selector, domain),
            detail={"domain": domain, "selector": selector, "algorithm": key.algorithm},
        )
    return KeyView(slug, key)


def from_domain(from_address: str) -> str | None:
    """The domain of a From address as the message carries it (IDNA); None if unreadable."""
    try:
        return domain_of(mailbox(from_address)[1])
    except ValueError:
        return None


async def campaign_signing(
    connection: AsyncConnection, *, organization_id: int, from_address: str
) -> Signing | None:
    """How messages from ``from_address`` are signed in the organization (None: the address
    cannot be read, so nothing is sent either)."""
    domain = from_domain(from_address)
    if domain is None:
        return None
    keys = await store.keys_for_domains(
        connection, organization_id=organization_id, domains=signing_domains(domain)
    )
    if not keys:
        return Signing(domain, None, ())
    return Signing(
        domain,
        keys[0].key.domain,
        tuple((sealed.key.selector, sealed.key.algorithm) for sealed in keys),
    )


async def signing_of_campaign(services: Services, campaign: Mapping[str, Any]) -> Signing | None:
    """How a campaign already read in the principal's scope (``campaigns.get_campaign``)
    is signed: its From address, or the instance's default sender."""
    async with services.database.connection() as connection:
        return await campaign_signing(
            connection,
            organization_id=int(campaign["organization_id"]),
            from_address=campaign["from_address"] or services.settings.from_address,
        )
