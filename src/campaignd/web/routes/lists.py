"""Lists: the organization's lists with their member counts; create, edit, delete, and the
subscribe form to paste into a web page for public lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from campaignd.actions import lists as actions
from campaignd.actions.errors import ActionError, NotFound
from campaignd.domain.audience import OptIn, Visibility
from campaignd.web.audience_parts import LISTS_URL, Scope, page_url, scope_of
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

router = APIRouter(prefix=LISTS_URL, route_class=AdminRoute)

ListName = Annotated[str, Path(max_length=100)]
FIELDS = ("name", "description", "visibility", "opt_in")


def _organization(viewer: Viewer, scope: Scope) -> str | None:
    return scope.organization if viewer.is_platform_admin else None


def list_url(viewer: Viewer, organization: str | None, name: str | None = None) -> str:
    named = organization if viewer.is_platform_admin else None
    return page_url(LISTS_URL, *([name] if name else []), organization=named)


def _list_link(viewer: Viewer, scope: Scope) -> Callable[..., str]:
    def link(name: str | None = None) -> str:
        return list_url(viewer, scope.organization, name)

    return link


def _values(form: Any) -> dict[str, str]:
    values = {field: text_of(form, field) for field in FIELDS}
    values["name"] = values["name"].strip()
    return values


def _choices() -> dict[str, list[str]]:
    return {
        "visibilities": [item.value for item in Visibility],
        "opt_ins": [item.value for item in OptIn],
    }


async def _lists_page(
    request: Request,
    viewer: Viewer,
    scope: Scope,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows: list[Any] = []
    list_error = None
    if scope.slug is not None:
        try:
            _, rows = await actions.list_lists(
                services_of(request), viewer.principal, organization=scope.organization
            )
        except ActionError as problem:
            list_error = sentence(problem.detail)
    context = {
        "active": "lists",
        "scope": scope,
        "picker_action": LISTS_URL,
        "rows": rows,
        "list_error": list_error,
        "error": error,
        "values": values or {},
        "list_url": _list_link(viewer, scope),
        "contacts_url": lambda name: page_url(
            "/admin/marketing/contacts", list=name, organization=_organization(viewer, scope)
        ),
        **_choices(),
    }
    return await render(
        request, "audience/lists.html", context, viewer=viewer, status_code=status_code
    )


@router.get("")
async def lists_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _lists_page(request, viewer, await scope_of(request, viewer, organization))


@router.post("")
async def create_list(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(
            request, list_url(viewer, scope.organization), "error", READ_ONLY
        )
    values = _values(form)
    try:
        _, created = await actions.create_list(
            services_of(request),
            viewer.principal,
            name=values["name"],
            description=optional_text(values["description"]),
            visibility=values["visibility"],
            opt_in=values["opt_in"],
            organization=_organization(viewer, scope),
        )
    except ActionError as problem:
        return await _lists_page(
            request,
            viewer,
            scope,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request,
        list_url(viewer, scope.organization, created.name),
        "success",
        f"The list “{created.name}” is created ({created.visibility}, {created.opt_in} opt-in).",
    )


async def _list_page(
    request: Request,
    viewer: Viewer,
    scope: Scope,
    name: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    services = services_of(request)
    organization = _organization(viewer, scope)
    _, found = await actions.get_list(services, viewer.principal, name, organization=organization)
    snippet = None
    if found.visibility == Visibility.PUBLIC.value:
        snippet = await actions.form_snippet(
            services, viewer.principal, lists=[found.name], organization=organization
        )
    context = {
        "active": "lists",
        "scope": scope,
        "picker_action": LISTS_URL,
        "list": found,
        "snippet": snippet,
        "error": error,
        "values": values
        or {
            "name": found.name,
            "description": found.description or "",
            "visibility": found.visibility,
            "opt_in": found.opt_in,
        },
        "list_url": _list_link(viewer, scope),
        "contacts_url": page_url(
            "/admin/marketing/contacts", list=found.name, organization=organization
        ),
        "edit_action": page_url(LISTS_URL, found.name, "edit"),
        "delete_action": page_url(LISTS_URL, found.name, "delete"),
        **_choices(),
    }
    return await render(
        request, "audience/list.html", context, viewer=viewer, status_code=status_code
    )


@router.get("/{name}")
async def list_page(
    request: Request, viewer: ViewerDep, name: ListName, organization: str | None = None
) -> Response:
    return await _list_page(request, viewer, await scope_of(request, viewer, organization), name)


@router.post("/{name}/edit")
async def edit_list(request: Request, viewer: ViewerDep, name: ListName) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(
            request, list_url(viewer, scope.organization, name), "error", READ_ONLY
        )
    values = _values(form)
    services = services_of(request)
    organization = _organization(viewer, scope)
    _, current = await actions.get_list(services, viewer.principal, name, organization=organization)
    stored = {
        "name": current.name,
        "description": current.description,
        "visibility": current.visibility,
        "opt_in": current.opt_in,
    }
    sent: dict[str, Any] = dict(values) | {"description": optional_text(values["description"])}
    changes = {field: sent[field] for field in FIELDS if sent[field] != stored[field]}
    if not changes:
        return await flash_and_redirect(
            request, list_url(viewer, scope.organization, name), "info", "Nothing changed."
        )
    try:
        _, updated = await actions.update_list(
            services, viewer.principal, name, changes, organization=organization
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await _list_page(
            request,
            viewer,
            scope,
            name,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request,
        list_url(viewer, scope.organization, updated.name),
        "success",
        f"The list “{updated.name}” is saved.",
    )


@router.post("/{name}/delete")
async def delete_list(request: Request, viewer: ViewerDep, name: ListName) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    back = list_url(viewer, scope.organization, name)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        await actions.delete_list(
            services_of(request), viewer.principal, name, organization=_organization(viewer, scope)
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    viewer.session.flash(
        "success", f"The list “{name}” is deleted, with its memberships; the contacts stay."
    )
    return await redirect(request, list_url(viewer, scope.organization))
