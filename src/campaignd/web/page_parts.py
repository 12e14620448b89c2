"""Small pieces several admin pages share: a flash message as a sentence, an optional
form value, the organizations a platform admin chooses from, and an organization's listing
with its error as a sentence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

from campaignd.actions.errors import ActionError
from campaignd.store.organizations import list_organizations
from campaignd.store.rows import Row
from campaignd.web.auth import Viewer
from campaignd.web.session import services_of

Listing = TypeVar("Listing")


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop, as a flash message."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def optional_text(value: str | None) -> str | None:
    """A form value without surrounding spaces; None when nothing is left."""
    value = (value or "").strip()
    return value or None


async def organizations_to_choose(request: Request, viewer: Viewer) -> list[Row]:
    """Every organization for a platform admin (who picks one); none for anyone else."""
    if not viewer.is_platform_admin:
        return []
    async with services_of(request).database.connection() as connection:
        return await list_organizations(connection)


async def chosen_organization(
    request: Request, viewer: Viewer, organization: str | None
) -> tuple[list[Row], str | None]:
    """The organizations to choose from, and the one a page shows: the one asked for, or a
    platform admin's first when none was (anyone else's own: None)."""
    organizations = await organizations_to_choose(request, viewer)
    if viewer.is_platform_admin and organization is None and organizations:
        organization = str(organizations[0]["slug"])
    return organizations, organization


async def listed(
    request: Request,
    viewer: Viewer,
    organization: str | None,
    listing: Callable[..., Awaitable[Listing]],
    **options: object,
) -> tuple[Listing | None, str | None]:
    """What the action ``listing`` returns for ``organization`` (called with the services,
    the viewer's principal, ``organization`` and ``options``), or None with its refusal as
    a sentence; nothing is listed for a platform admin with no organization to show."""
    if organization is None and viewer.is_platform_admin:
        return None, None
    try:
        return (
            await listing(
                services_of(request), viewer.principal, organization=organization, **options
            ),
            None,
        )
    except ActionError as problem:
        return None, sentence(problem.detail)
