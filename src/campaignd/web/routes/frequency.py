"""Frequency rules: the organization's and its categories'; change, add and remove."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from campaignd.actions import frequency as actions
from campaignd.actions.errors import ActionError
from campaignd.domain.frequency import rules_text
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import (
    chosen_organization,
    listed,
    optional_text,
    sentence,
)
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/frequency-rules"
SEPARATORS = re.compile(r"[,;\s]+")

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def page_url(organization: str | None) -> str:
    return f"{PAGE_URL}?{urlencode({'organization': organization})}" if organization else PAGE_URL


def _rules_of(text: str) -> list[dict[str, int]]:
    """``1/1d, 3/7d`` (commas or spaces between rules) as the JSON rule list."""
    return actions.rules_from_text([part for part in SEPARATORS.split(text.strip()) if part])


async def _page(
    request: Request,
    viewer: Viewer,
    *,
    organization: str | None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    organizations, organization = await chosen_organization(request, viewer, organization)
    view, list_error = await listed(request, viewer, organization, actions.show_rules)
    context = {
        "active": "frequency",
        "organizations": organizations,
        "organization": organization,
        "view": view,
        "rules_text": rules_text,
        "list_error": list_error,
        "error": error,
        "values": values or {},
    }
    return await render(
        request, "frequency_rules.html", context, viewer=viewer, status_code=status_code
    )


@router.get("")
async def rules_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _page(request, viewer, organization=optional_text(organization))


def _back(viewer: Viewer, organization: str | None) -> str:
    return page_url(organization if viewer.is_platform_admin else None)


@router.post("/set")
async def set_rules(request: Request, viewer: ViewerDep) -> Response:
    """The organization's rules (no ``category``) or a category's, new or not."""
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    category = optional_text(text_of(form, "category"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    values = {"category": category or "", "rules": text_of(form, "rules")}
    try:
        view = await actions.change_rules(
            services_of(request),
            viewer.principal,
            rules=_rules_of(values["rules"]),
            category=category,
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
    if category is None:
        what = f"{view.organization}'s rules are now {rules_text(view.sets.rules)}"
    else:
        what = f"The category {category} has the rules {rules_text(view.sets.categories[category])}"
    return await flash_and_redirect(
        request, back, "success", f"{what}; they apply from the next campaign that starts."
    )


@router.post("/reset")
async def reset_rules(request: Request, viewer: ViewerDep) -> Response:
    """Back to the default rule (no ``category``), or remove a category."""
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    category = optional_text(text_of(form, "category"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        view = await actions.reset_rules(
            services_of(request), viewer.principal, category=category, organization=organization
        )
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    if category is None:
        message = f"Back to the default rule, {rules_text(view.sets.rules)}."
    else:
        message = f"The category {category} is removed."
    return await flash_and_redirect(request, back, "success", message)
