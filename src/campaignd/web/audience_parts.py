"""Pieces the audience pages (contacts, lists, segments) share: the organization a page is
about, and addresses of pages that keep a platform admin's organization."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import Request

from campaignd.store.rows import Row
from campaignd.web.auth import Viewer
from campaignd.web.page_parts import optional_text, organizations_to_choose

CONTACTS_URL = "/admin/marketing/contacts"
LISTS_URL = "/admin/marketing/lists"
SEGMENTS_URL = "/admin/marketing/segments"


@dataclass(frozen=True)
class Scope:
    """Whose audience a page shows: ``organization`` is what the address names (platform
    admins only), ``slug`` the organization shown (None: a platform admin without any)."""

    organizations: list[Row]
    organization: str | None
    slug: str | None


async def scope_of(request: Request, viewer: Viewer, organization: str | None) -> Scope:
    """An organization admin or viewer always sees their own organization (a name in the
    address is ignored); a platform admin the one named, or the first."""
    if not viewer.is_platform_admin:
        return Scope([], None, viewer.principal.organization_slug)
    organizations = await organizations_to_choose(request, viewer)
    organization = optional_text(organization)
    if organization is None and organizations:
        organization = str(organizations[0]["slug"])
    return Scope(organizations, organization, organization)


def page_url(base: str, *parts: str, **params: str | None) -> str:
    """``base`` with path ``parts`` (each quoted whole) and the non-empty ``params``."""
    path = "/".join([base, *(quote(part, safe="") for part in parts)])
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{path}?{query}" if query else path
