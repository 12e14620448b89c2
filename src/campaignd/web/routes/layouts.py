"""Layouts: list with a preview of each, add, edit (with a preview), remove."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response

from campaignd.actions import layouts as actions
from campaignd.actions.errors import ActionError
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import (
    chosen_organization,
    optional_text,
    sentence,
)
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/layouts"
EXAMPLE = """<html>
<head>
<style>
  body { font-family: Helvetica, Arial, sans-serif; color: #1f2937; }
  h1 { color: #0f766e; }
  .footer { font-size: 12px; color: #6b7280; }
</style>
</head>
<body>
  {{ content }}
  <p class="footer">Example Ltd, 1 High Street.
    <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body>
</html>"""

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def _query(organization: str | None) -> str:
    return f"?{urlencode({'organization': organization})}" if organization else ""


def page_url(viewer: Viewer, organization: str | None) -> str:
    return PAGE_URL + (_query(organization) if viewer.is_platform_admin else "")


def layout_url(viewer: Viewer, name: str, organization: str | None) -> str:
    scoped = _query(organization) if viewer.is_platform_admin else ""
    return f"{PAGE_URL}/{quote(name, safe='')}{scoped}"


async def _list_page(
    request: Request,
    viewer: Viewer,
    *,
    organization: str | None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    organizations, organization = await chosen_organization(request, viewer, organization)
    slug = organization or viewer.principal.organization_slug
    items: list[tuple[object, actions.LayoutPreview | None]] = []
    list_error = None
    if organization is not None or not viewer.is_platform_admin:
        services = services_of(request)
        try:
            slug, layouts = await actions.list_layouts(
                services, viewer.principal, organization=organization
            )
            for layout in layouts:
                items.append((layout, await _preview(request, viewer, layout.name, organization)))
        except ActionError as problem:
            list_error = sentence(problem.detail)
    context = {
        "active": "layouts",
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "items": items,
        "list_error": list_error,
        "error": error,
        "values": values or {"html": EXAMPLE},
    }
    return await render(request, "layouts.html", context, viewer=viewer, status_code=status_code)


async def _preview(
    request: Request, viewer: Viewer, name: str, organization: str | None
) -> actions.LayoutPreview | None:
    try:
        return await actions.preview_layout(
            services_of(request), viewer.principal, name, organization=organization
        )
    except ActionError:
        return None


@router.get("")
async def layouts_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _list_page(request, viewer, organization=optional_text(organization))


@router.post("/add")
async def add_layout(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(request, page_url(viewer, organization), "error", READ_ONLY)
    values = {
        "name": text_of(form, "name").strip(),
        "html": text_of(form, "html"),
        "text": text_of(form, "text"),
        "default": text_of(form, "default"),
    }
    try:
        view = await actions.add_layout(
            services_of(request),
            viewer.principal,
            name=values["name"],
            html=values["html"],
            text=values["text"].strip() or None,
            is_default=bool(values["default"]),
            organization=organization,
        )
    except ActionError as problem:
        return await _list_page(
            request,
            viewer,
            organization=organization,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    role = " It is the organization's default." if view.layout.is_default else ""
    return await flash_and_redirect(
        request,
        page_url(viewer, organization),
        "success",
        f"The layout {view.layout.name} is added.{role}",
    )


async def _edit_page(
    request: Request,
    viewer: Viewer,
    name: str,
    *,
    organization: str | None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await actions.get_layout(
        services_of(request), viewer.principal, name, organization=organization
    )
    context = {
        "active": "layouts",
        "organization": organization,
        "slug": view.organization,
        "layout": view.layout,
        "preview": await _preview(request, viewer, name, organization),
        "error": error,
        "values": values
        or {
            "html": view.layout.html,
            "text": view.layout.text or "",
            "default": "on" if view.layout.is_default else "",
        },
        "back": page_url(viewer, organization),
        "url": layout_url(viewer, name, organization),
    }
    return await render(
        request, "layout_edit.html", context, viewer=viewer, status_code=status_code
    )


@router.get("/{name}")
async def layout_page(
    request: Request, name: str, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _edit_page(request, viewer, name, organization=optional_text(organization))


@router.post("/{name}/edit")
async def edit_layout(request: Request, name: str, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = layout_url(viewer, name, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    values = {
        "html": text_of(form, "html"),
        "text": text_of(form, "text"),
        "default": text_of(form, "default"),
    }
    try:
        await actions.edit_layout(
            services_of(request),
            viewer.principal,
            name,
            html=values["html"],
            text=values["text"].strip() or None,
            clear_text=not values["text"].strip(),
            is_default=bool(values["default"]),
            organization=organization,
        )
    except ActionError as problem:
        return await _edit_page(
            request,
            viewer,
            name,
            organization=organization,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request,
        back,
        "success",
        f"The layout {name} is saved. Campaigns already sending keep the layout they started "
        "with; drafts and scheduled campaigns get this one.",
    )


@router.post("/{name}/remove")
async def remove_layout(request: Request, name: str, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(request, page_url(viewer, organization), "error", READ_ONLY)
    try:
        await actions.remove_layout(
            services_of(request), viewer.principal, name, organization=organization
        )
    except ActionError as problem:
        return await flash_and_redirect(
            request, layout_url(viewer, name, organization), "error", sentence(problem.detail)
        )
    return await flash_and_redirect(
        request, page_url(viewer, organization), "success", f"The layout {name} is removed."
    )
