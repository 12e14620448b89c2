"""Layouts of an organization: the HTML (and text) a campaign's body is placed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from campaignd.actions import layouts as actions
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.layout_models import Layout, LayoutAdd, LayoutEdit, LayoutList, LayoutPreview
from campaignd.api.models import problem
from campaignd.api.routing import ApiRoute
from campaignd.store.layouts import Layout as StoredLayout

router = APIRouter(tags=["layouts"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]


def layout_model(organization: str, layout: StoredLayout) -> Layout:
    return Layout(
        organization=organization,
        name=layout.name,
        html=layout.html,
        text=layout.text,
        default=layout.is_default,
        created_at=layout.created_at,
        updated_at=layout.updated_at,
    )


@router.get("/layouts")
async def list_layouts(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> LayoutList:
    """The organization's layouts by name."""
    slug, layouts = await actions.list_layouts(services, principal, organization=organization)
    return LayoutList(organization=slug, layouts=[layout_model(slug, item) for item in layouts])


@router.post(
    "/layouts",
    status_code=status.HTTP_201_CREATED,
    responses={409: problem("The organization has a layout of this name; nothing changed")},
)
async def add_layout(
    body: Annotated[LayoutAdd, Body()], services: ServicesDep, principal: PrincipalDep
) -> Layout:
    """Add a layout: `html` must contain `{{ content }}` (where the campaign's body goes);
    `text`, if given, too. `default: true` makes it the organization's default, which
    campaigns created without `layout` take."""
    view = await actions.add_layout(
        services,
        principal,
        name=body.name,
        html=body.html,
        text=body.text,
        is_default=body.default,
        organization=body.organization,
    )
    return layout_model(view.organization, view.layout)


@router.get("/layouts/{name}")
async def get_layout(
    name: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Layout:
    view = await actions.get_layout(services, principal, name, organization=organization)
    return layout_model(view.organization, view.layout)


@router.get("/layouts/{name}/preview")
async def preview_layout(
    name: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> LayoutPreview:
    """The layout around a sample body, for a sample recipient: HTML and text parts."""
    preview = await actions.preview_layout(services, principal, name, organization=organization)
    return LayoutPreview(html=preview.html, text=preview.text)


@router.patch("/layouts/{name}")
async def edit_layout(
    name: str,
    body: Annotated[LayoutEdit, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
) -> Layout:
    """Change `html`, `text` (null removes it) or `default`. Campaigns already sending keep
    the layout as it was when they started."""
    fields = body.model_fields_set
    if not fields:
        raise Invalid("the body names no field to change")
    if "html" in fields and body.html is None:
        raise Invalid("html: must not be null")
    if "default" in fields and body.default is None:
        raise Invalid("default: must be true or false")
    view = await actions.edit_layout(
        services,
        principal,
        name,
        html=body.html,
        text=body.text,
        clear_text="text" in fields and body.text is None,
        is_default=body.default,
        organization=organization,
    )
    return layout_model(view.organization, view.layout)


@router.delete(
    "/layouts/{name}",
    responses={409: problem("A scheduled or sending campaign uses the layout; nothing changed")},
)
async def remove_layout(
    name: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Layout:
    """Remove a layout; refused (409) while a scheduled or sending campaign uses it."""
    view = await actions.remove_layout(services, principal, name, organization=organization)
    return layout_model(view.organization, view.layout)
