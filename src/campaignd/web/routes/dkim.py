"""DKIM keys: each sending domain's keys, the DNS record to publish and whether DNS serves
it; add (generate or paste a key) and remove."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from campaignd.actions import dkim as actions
from campaignd.actions.errors import ActionError
from campaignd.domain.dkim import ALGORITHMS
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import chosen_organization, listed, optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/dkim"

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def page_url(organization: str | None) -> str:
    return f"{PAGE_URL}?{urlencode({'organization': organization})}" if organization else PAGE_URL


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
    found, list_error = await listed(request, viewer, organization, actions.list_keys)
    views: list[actions.KeyView] = []
    slug, views = found or (organization or viewer.principal.organization_slug, views)
    context = {
        "active": "dkim",
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "keys": views,
        "algorithms": ALGORITHMS,
        "list_error": list_error,
        "error": error,
        "values": values or {},
    }
    return await render(request, "dkim.html", context, viewer=viewer, status_code=status_code)


@router.get("")
async def dkim_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    return await _page(request, viewer, organization=optional_text(organization))


def _back(viewer: Viewer, organization: str | None) -> str:
    return page_url(organization if viewer.is_platform_admin else None)


@router.post("/add")
async def add_key(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    values = {
        "domain": text_of(form, "domain"),
        "selector": text_of(form, "selector"),
        "algorithm": text_of(form, "algorithm").strip() or "rsa",
    }
    pem = text_of(form, "private_key").strip()
    try:
        view = await actions.add_key(
            services_of(request),
            viewer.principal,
            domain=values["domain"],
            selector=values["selector"],
            algorithm=None if pem and values["algorithm"] == "rsa" else values["algorithm"],
            private_pem=pem.encode("utf-8") if pem else None,
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
    kind = "An RSA" if view.key.algorithm == "rsa" else "An Ed25519"
    return await flash_and_redirect(
        request,
        back,
        "success",
        f"{kind} key for {view.key.domain} is added. Publish its TXT record at "
        f"{view.record_name} (below); messages from {view.key.domain} are signed with it "
        "from the next campaign on.",
    )


@router.post("/remove")
async def remove_key(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        view = await actions.remove_key(
            services_of(request),
            viewer.principal,
            domain=text_of(form, "domain"),
            selector=text_of(form, "selector"),
            organization=organization,
        )
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    return await flash_and_redirect(
        request,
        back,
        "success",
        f"The key {view.record_name} is removed: messages are no longer signed with it. "
        "Keep its DNS record a few days, for messages still on their way.",
    )
