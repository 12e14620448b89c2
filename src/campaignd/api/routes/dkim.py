"""DKIM keys of an organization's sending domains, with the DNS record to publish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from campaignd.actions import dkim as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import DkimKey, DkimKeyAdd, DkimKeyList, DnsCheck, problem
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["dkim"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]


def key_model(view: actions.KeyView) -> DkimKey:
    """A key as the API shows it: never its private half."""
    dns = (
        DnsCheck(status=view.dns.status, records=list(view.dns.records), error=view.dns.error)
        if view.dns is not None
        else None
    )
    return DkimKey(
        organization=view.organization,
        domain=view.key.domain,
        selector=view.key.selector,
        algorithm=view.key.algorithm,
        record_name=view.record_name,
        record_value=view.record_value,
        created_at=view.key.created_at,
        dns=dns,
    )


@router.get("/dkim-keys")
async def list_keys(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    dns: Annotated[
        bool, Query(description="look up whether DNS serves each record (false: skip)")
    ] = True,
) -> DkimKeyList:
    """The organization's DKIM keys with the TXT record to publish for each, and whether DNS
    serves it now: `published`, `not published`, `differs` or `unknown` (no answer)."""
    slug, views = await actions.list_keys(
        services, principal, organization=organization, check_dns=dns
    )
    return DkimKeyList(organization=slug, keys=[key_model(view) for view in views])


@router.post(
    "/dkim-keys",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: problem(
            "The organization has a key with this selector for the domain; nothing changed"
        )
    },
)
async def add_key(
    body: Annotated[DkimKeyAdd, Body()], services: ServicesDep, principal: PrincipalDep
) -> DkimKey:
    """Add a key for a sending domain: generated (RSA-2048 by default, or Ed25519) unless
    `privateKey` gives one. Publish `recordValue` as a TXT record at `recordName`; every
    message from the domain is signed from the next campaign on. The private key is stored
    encrypted and never shown again."""
    view = await actions.add_key(
        services,
        principal,
        domain=body.domain,
        selector=body.selector,
        algorithm=body.algorithm,
        private_pem=body.private_key.encode("utf-8") if body.private_key is not None else None,
        organization=body.organization,
    )
    return key_model(view)


@router.delete("/dkim-keys/{domain}/{selector}")
async def remove_key(
    domain: str,
    selector: str,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
) -> DkimKey:
    """Remove a key; messages are no longer signed with it. Its DNS record can go once no
    message signed with it is still on its way (a few days)."""
    view = await actions.remove_key(
        services, principal, domain=domain, selector=selector, organization=organization
    )
    return key_model(view)
