"""Webhook endpoints: each with its event types and state (and why it is disabled); add
one (its secret is shown once), enable, disable, remove; an endpoint's recent events and
attempts, with a button to post one again."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request, Response

from campaignd.actions import webhooks as actions
from campaignd.actions.errors import ActionError
from campaignd.api.params import MAX_ID
from campaignd.domain.webhooks import EVENT_TYPES
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import chosen_organization, listed, optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/webhooks"
NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def page_url(organization: str | None) -> str:
    return f"{PAGE_URL}?{urlencode({'organization': organization})}" if organization else PAGE_URL


def _back(viewer: Viewer, organization: str | None) -> str:
    return page_url(organization if viewer.is_platform_admin else None)


async def _page(
    request: Request,
    viewer: Viewer,
    *,
    organization: str | None,
    error: str | None = None,
    values: dict[str, object] | None = None,
    created: actions.Created | None = None,
    status_code: int = 200,
) -> Response:
    organizations, organization = await chosen_organization(request, viewer, organization)
    found, list_error = await listed(request, viewer, organization, actions.list_endpoints)
    views: list[actions.EndpointView] = []
    slug, views = found or (organization or viewer.principal.organization_slug, views)
    context = {
        "active": "webhooks",
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "endpoints": views,
        "event_types": EVENT_TYPES,
        "list_error": list_error,
        "error": error,
        "values": values or {"event_types": []},
        "created": created,
    }
    return await render(
        request,
        "webhooks.html",
        context,
        viewer=viewer,
        status_code=status_code,
        headers=NO_STORE if created is not None else None,
    )


@router.get("")
async def webhooks_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _page(request, viewer, organization=optional_text(organization))


@router.post("/add")
async def add_endpoint(request: Request, viewer: ViewerDep) -> Response:
    """Answered with the page itself, not a redirect: the secret is shown this once and is
    kept nowhere in the clear (not even in the session's flash messages)."""
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(request, _back(viewer, organization), "error", READ_ONLY)
    chosen = [str(value) for value in form.getlist("event_types")]
    values: dict[str, object] = {
        "url": text_of(form, "url"),
        "description": text_of(form, "description"),
        "event_types": chosen,
    }
    try:
        created = await actions.add_endpoint(
            services_of(request),
            viewer.principal,
            url=text_of(form, "url"),
            event_types=chosen,
            description=text_of(form, "description"),
            organization=organization,
        )
    except ActionError as problem:
        return await _page(
            request,
            viewer,
            organization=organization,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    return await _page(request, viewer, organization=organization, created=created)


async def _change(request: Request, viewer: Viewer, action: str) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        endpoint_id = int(text_of(form, "endpoint"))
    except ValueError:
        endpoint_id = 0
    if not 1 <= endpoint_id <= MAX_ID:
        return await flash_and_redirect(request, back, "error", "No such webhook endpoint.")
    services = services_of(request)
    try:
        if action == "remove":
            view = await actions.remove_endpoint(services, viewer.principal, endpoint_id)
            text = f"The endpoint {view.endpoint.url} is removed, with its pending events."
        else:
            enabled = action == "enable"
            view = await actions.update_endpoint(
                services, viewer.principal, endpoint_id, enabled=enabled
            )
            text = (
                f"The endpoint {view.endpoint.url} is enabled; its pending events are posted."
                if enabled
                else f"The endpoint {view.endpoint.url} is disabled; its events wait."
            )
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    return await flash_and_redirect(request, back, "success", text)


@router.post("/enable")
async def enable_endpoint(request: Request, viewer: ViewerDep) -> Response:
    return await _change(request, viewer, "enable")


@router.post("/disable")
async def disable_endpoint(request: Request, viewer: ViewerDep) -> Response:
    return await _change(request, viewer, "disable")


@router.post("/remove")
async def remove_endpoint(request: Request, viewer: ViewerDep) -> Response:
    return await _change(request, viewer, "remove")


@router.get("/{endpoint_id}")
async def endpoint_page(
    request: Request, viewer: ViewerDep, endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    services = services_of(request)
    view, messages = await actions.messages(services, viewer.principal, endpoint_id, limit=50)
    _, attempts = await actions.attempts(services, viewer.principal, endpoint_id, limit=50)
    context = {
        "active": "webhooks",
        "view": view,
        "messages": messages,
        "attempts": attempts,
        "back": _back(viewer, view.organization),
    }
    return await render(request, "webhook.html", context, viewer=viewer)


@router.post("/{endpoint_id}/replay")
async def replay_message(
    request: Request, viewer: ViewerDep, endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    form = await checked_form(request)
    back = f"{PAGE_URL}/{endpoint_id}"
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        message = await actions.replay(
            services_of(request), viewer.principal, endpoint_id, text_of(form, "message")
        )
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    return await flash_and_redirect(
        request,
        back,
        "success",
        f"The {message.event_type} event {message.message_id} is posted again now, "
        "with the same id.",
    )
