"""Suppression list actions: list, add and remove addresses that are never mailed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Invalid, UnknownName
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.suppressions import REASONS as REASONS
from campaignd.store import audit, organizations, suppressions
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row


@dataclass(frozen=True)
class Change:
    organization: str
    changed: int
    unchanged: int


def normalised(emails: list[str]) -> list[str]:
    """Every address normalised and de-duplicated, or Invalid naming the first bad one."""
    result: dict[str, None] = {}
    for index, email in enumerate(emails):
        try:
            result[normalise(email)] = None
        except InvalidAddress as error:
            raise Invalid(f"emails[{index}]: '{email}' is not a valid address: {error}") from None
    return list(result)


async def organization_of(
    connection: AsyncConnection, principal: Principal, slug: str | None
) -> tuple[int, str]:
    """The organization acted on: named by a platform admin, else the principal's own."""
    if principal.role is not Role.PLATFORM_ADMIN:
        assert principal.organization_id is not None and principal.organization_slug is not None
        if slug and slug != principal.organization_slug:
            raise Invalid(
                f"organization: you belong to '{principal.organization_slug}', not '{slug}'"
            )
        return principal.organization_id, principal.organization_slug
    if not slug:
        raise Invalid("organization: required for a platform admin (an organization slug)")
    row = await organizations.organization_by_slug(connection, slug)
    if row is None:
        raise UnknownName(f"organization: no organization '{slug}'")
    return int(row["id"]), slug


async def list_suppressions(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    reason: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[str, list[Row], str | None]:
    """The organization, a page of its suppressed addresses (address order), the next cursor."""
    if reason is not None and reason not in REASONS:
        raise Invalid(f"reason: must be one of {', '.join(REASONS)}")
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        rows = await suppressions.list_suppressions(
            connection,
            organization_id=organization_id,
            reason=reason,
            after_email=cursor,
            limit=limit + 1,
        )
    page = rows[:limit]
    return slug, page, (str(page[-1]["email"]) if len(rows) > limit else None)


async def find_suppression(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> tuple[str, str, Row | None]:
    """The organization, the address normalised, and its entry (None: not suppressed)."""
    try:
        address = normalise(email)
    except InvalidAddress as error:
        raise Invalid(f"email: '{email}' is not a valid address: {error}") from None
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        entry = await suppressions.get_suppression(
            connection, organization_id=organization_id, email=address
        )
    return slug, address, entry


async def add_suppressions(
    services: Services,
    principal: Principal,
    emails: list[str],
    *,
    reason: str = "manual",
    organization: str | None = None,
) -> Change:
    principal.require_change()
    if reason not in REASONS:
        raise Invalid(f"reason: must be one of {', '.join(REASONS)}")
    addresses = normalised(emails)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        added = await suppressions.add_suppressions(
            connection,
            organization_id=organization_id,
            emails=addresses,
            reason=reason,
            now=utcnow(),
            detail=f"added by {principal.actor}",
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="suppression.add",
            organization_id=organization_id,
            detail={"emails": addresses[:100], "count": len(addresses), "reason": reason},
        )
    return Change(organization=slug, changed=added, unchanged=len(addresses) - added)


async def remove_suppressions(
    services: Services, principal: Principal, emails: list[str], *, organization: str | None = None
) -> Change:
    principal.require_change()
    addresses = normalised(emails)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        removed = await suppressions.remove_suppressions(
            connection, organization_id=organization_id, emails=addresses
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="suppression.remove",
            organization_id=organization_id,
            detail={"emails": addresses[:100], "count": len(addresses), "removed": removed},
        )
    return Change(organization=slug, changed=removed, unchanged=len(addresses) - removed)
