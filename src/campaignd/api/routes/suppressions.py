"""An organization's suppression list: addresses that are never mailed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, status

from campaignd.actions import suppressions as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import (
    Suppression,
    SuppressionPage,
    SuppressionsAdd,
    SuppressionsAdded,
    SuppressionsRemove,
    SuppressionsRemoved,
)
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["suppressions"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]


@router.get("/suppressions")
async def list_suppressions(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    reason: Literal["manual", "unsubscribed", "bounced", "complained"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=320, description="nextCursor of the previous page")
    ] = None,
) -> SuppressionPage:
    """Suppressed addresses in address order, one page at a time."""
    slug, rows, next_cursor = await actions.list_suppressions(
        services, principal, organization=organization, reason=reason, cursor=cursor, limit=limit
    )
    return SuppressionPage(
        suppressions=[Suppression.model_validate({**row, "organization": slug}) for row in rows],
        next_cursor=next_cursor,
    )


@router.post("/suppressions", status_code=status.HTTP_201_CREATED)
async def add_suppressions(
    body: Annotated[SuppressionsAdd, Body()], services: ServicesDep, principal: PrincipalDep
) -> SuppressionsAdded:
    """Never mail these addresses in the organization; addresses already there stay as they were."""
    change = await actions.add_suppressions(
        services, principal, body.emails, reason=body.reason, organization=body.organization
    )
    return SuppressionsAdded(
        organization=change.organization, added=change.changed, unchanged=change.unchanged
    )


@router.delete("/suppressions")
async def remove_suppressions(
    body: Annotated[SuppressionsRemove, Body()], services: ServicesDep, principal: PrincipalDep
) -> SuppressionsRemoved:
    """Allow these addresses to be mailed again."""
    change = await actions.remove_suppressions(
        services, principal, body.emails, organization=body.organization
    )
    return SuppressionsRemoved(
        organization=change.organization, removed=change.changed, unchanged=change.unchanged
    )


@router.delete("/suppressions/{email}")
async def remove_suppression(
    email: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> SuppressionsRemoved:
    """Allow one address to be mailed again."""
    change = await actions.remove_suppressions(
        services, principal, [email], organization=organization
    )
    return SuppressionsRemoved(
        organization=change.organization, removed=change.changed, unchanged=change.unchanged
    )
