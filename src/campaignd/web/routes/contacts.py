"""Contacts: search by address, filter by status and list, a page at a time; one contact's
page to edit its attributes (JSON) and status, see its lists, and delete it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from campaignd.actions import contacts as actions
from campaignd.actions import lists as list_actions
from campaignd.actions.errors import ActionError, Invalid, NotFound
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import Mode
from campaignd.store.contacts import Contact
from campaignd.web.audience_parts import CONTACTS_URL, LISTS_URL, Scope, page_url, scope_of
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

router = APIRouter(prefix=CONTACTS_URL, route_class=AdminRoute)

PAGE_SIZE = 50
Email = Annotated[str, Path(max_length=320)]
STATUSES = [status.value for status in ContactStatus]


def _organization(viewer: Viewer, scope: Scope) -> str | None:
    return scope.organization if viewer.is_platform_admin else None


def _status(value: str | None) -> ContactStatus | None:
    value = optional_text(value)
    if value is None:
        return None
    if value not in STATUSES:
        raise Invalid(f"status: one of {', '.join(STATUSES)}, not '{value}'")
    return ContactStatus(value)


@router.get("")
async def contacts_page(
    request: Request,
    viewer: ViewerDep,
    organization: str | None = None,
    search: str | None = None,
    status: str | None = None,
    list_name: Annotated[str | None, Query(alias="list")] = None,
    after: str | None = None,
) -> Response:
    scope = await scope_of(request, viewer, organization)
    search, list_name, after = optional_text(search), optional_text(list_name), optional_text(after)
    shown_status = optional_text(status)
    rows: list[Contact] = []
    lists: list[Any] = []
    next_cursor = None
    list_error = None
    named = _organization(viewer, scope)
    if scope.slug is not None:
        services = services_of(request)
        try:
            _, lists = await list_actions.list_lists(services, viewer.principal, organization=named)
            _, rows, next_cursor = await actions.search_contacts(
                services,
                viewer.principal,
                organization=named,
                contains=search,
                status=_status(shown_status),
                list_name=list_name,
                cursor=after,
                limit=PAGE_SIZE,
            )
        except ActionError as problem:
            list_error = sentence(problem.detail)
    filters = {"organization": named, "search": search, "status": shown_status, "list": list_name}
    context = {
        "active": "contacts",
        "scope": scope,
        "picker_action": CONTACTS_URL,
        "rows": rows,
        "lists": lists,
        "statuses": STATUSES,
        "search": search or "",
        "status": shown_status,
        "list_name": list_name,
        "list_error": list_error,
        "next_url": page_url(CONTACTS_URL, **filters, after=next_cursor) if next_cursor else None,
        "first_url": page_url(CONTACTS_URL, **filters) if after else None,
        "contact_url": lambda email: page_url(CONTACTS_URL, email, organization=named),
    }
    return await render(request, "audience/contacts.html", context, viewer=viewer)


async def _contact_page(
    request: Request,
    viewer: Viewer,
    scope: Scope,
    email: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    services = services_of(request)
    named = _organization(viewer, scope)
    _, contact = await actions.get_contact(services, viewer.principal, email, organization=named)
    memberships = await actions.contact_lists(
        services, viewer.principal, contact.email, organization=named
    )
    errors = {}
    if error:
        field = error.split(":", 1)[0].split(".", 1)[0]
        errors[field if field == "status" else "attributes"] = error
    context = {
        "active": "contacts",
        "scope": scope,
        "picker_action": CONTACTS_URL,
        "contact": contact,
        "memberships": memberships,
        "statuses": STATUSES,
        "errors": errors,
        "error": error,
        "values": values
        or {
            "attributes": json.dumps(contact.attributes, indent=2, ensure_ascii=False),
            "status": contact.status.value,
        },
        "back_url": page_url(CONTACTS_URL, organization=named),
        "list_url": lambda name: page_url(LISTS_URL, name, organization=named),
        "edit_action": page_url(CONTACTS_URL, contact.email, "edit"),
        "delete_action": page_url(CONTACTS_URL, contact.email, "delete"),
    }
    return await render(
        request, "audience/contact.html", context, viewer=viewer, status_code=status_code
    )


@router.get("/{email}")
async def contact_page(
    request: Request, viewer: ViewerDep, email: Email, organization: str | None = None
) -> Response:
    scope = await scope_of(request, viewer, organization)
    return await _contact_page(request, viewer, scope, email)


def _attributes(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise Invalid(
            f"attributes: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(document, dict):
        raise Invalid('attributes: a JSON object, such as {"first_name": "Ada", "plan": "pro"}')
    return document


@router.post("/{email}/edit")
async def edit_contact(request: Request, viewer: ViewerDep, email: Email) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    named = _organization(viewer, scope)
    back = page_url(CONTACTS_URL, email, organization=named)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    values = {"attributes": text_of(form, "attributes"), "status": text_of(form, "status")}
    services = services_of(request)
    _, current = await actions.get_contact(services, viewer.principal, email, organization=named)
    try:
        status = _status(values["status"])
        _, contact = await actions.edit_contact(
            services,
            viewer.principal,
            email,
            attributes=_attributes(values["attributes"]),
            mode=Mode.REPLACE,
            status=None if status == current.status else status,
            organization=named,
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await _contact_page(
            request,
            viewer,
            scope,
            email,
            error=sentence(problem.detail),
            values=values,
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request, back, "success", f"{contact.email} is saved ({contact.status.value})."
    )


@router.post("/{email}/delete")
async def delete_contact(request: Request, viewer: ViewerDep, email: Email) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    named = _organization(viewer, scope)
    if not viewer.can_change:
        return await flash_and_redirect(
            request, page_url(CONTACTS_URL, email, organization=named), "error", READ_ONLY
        )
    await actions.delete_contact(services_of(request), viewer.principal, email, organization=named)
    viewer.session.flash(
        "success",
        f"{email} is deleted with its list memberships; a suppression of the address stays.",
    )
    return await redirect(request, page_url(CONTACTS_URL, organization=named))
