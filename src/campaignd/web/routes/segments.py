"""Segments: the organization's saved filters; the builder (the filter as JSON, with rows
to add conditions) shows the live count and a sample as the filter is typed."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.datastructures import FormData

from campaignd.actions import segments as actions
from campaignd.actions.errors import ActionError, Invalid, NotFound
from campaignd.domain.filters import Activity, Field, Op
from campaignd.store.segments import Segment
from campaignd.web.audience_parts import SEGMENTS_URL, Scope, page_url, scope_of
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

router = APIRouter(prefix=SEGMENTS_URL, route_class=AdminRoute)

SegmentName = Annotated[str, Path(max_length=100)]
EVERYONE = '{"all": []}'
ACTIVITIES = [
    (Activity.OPENED.value, "open"),
    (Activity.CLICKED.value, "click a link in"),
    (Activity.SENT.value, "receive"),
]
"""The engagement row's activities, read after "Contacts who did (not)"."""
MAX_FILTER_TEXT = 1_000_000


def _organization(viewer: Viewer, scope: Scope) -> str | None:
    return scope.organization if viewer.is_platform_admin else None


def segment_url(viewer: Viewer, scope: Scope, *parts: str) -> str:
    return page_url(SEGMENTS_URL, *parts, organization=_organization(viewer, scope))


def filter_document(text: str) -> Any:
    """The filter typed in the builder, as JSON; ``Invalid`` naming ``filter`` otherwise."""
    if not text.strip():
        raise Invalid('filter: write a filter ({"all": []} selects every subscribed contact)')
    if len(text) > MAX_FILTER_TEXT:
        raise Invalid(f"filter: at most {MAX_FILTER_TEXT:,} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise Invalid(
            f"filter: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise Invalid("filter: nested too deeply") from None


def shown_filter(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def _said(detail: str) -> str:
    """A problem as a message, its JSON path (``filter.all[2].value``) kept as written."""
    return detail if detail.endswith((".", "!", "?")) else detail + "."


def _base_context(viewer: Viewer, scope: Scope) -> dict[str, Any]:
    return {
        "active": "segments",
        "scope": scope,
        "picker_action": SEGMENTS_URL,
        "segment_url": lambda *parts: segment_url(viewer, scope, *parts),
        "ops": [op.value for op in Op],
        "fields": [field.value for field in Field],
    }


@router.get("")
async def segments_page(
    request: Request, viewer: ViewerDep, organization: str | None = None, after: str | None = None
) -> Response:
    scope = await scope_of(request, viewer, organization)
    rows: list[Segment] = []
    next_cursor = None
    list_error = None
    if scope.slug is not None:
        try:
            _, rows, next_cursor = await actions.list_segments(
                services_of(request),
                viewer.principal,
                organization=_organization(viewer, scope),
                cursor=optional_text(after),
                limit=50,
            )
        except ActionError as problem:
            list_error = _said(problem.detail)
    context = _base_context(viewer, scope) | {
        "rows": rows,
        "describe": actions.filter_text,
        "list_error": list_error,
        "next_url": page_url(
            SEGMENTS_URL, organization=_organization(viewer, scope), after=next_cursor
        )
        if next_cursor
        else None,
    }
    return await render(request, "audience/segments.html", context, viewer=viewer)


async def _builder(
    request: Request,
    viewer: Viewer,
    scope: Scope,
    *,
    segment: Segment | None,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    errors = {}
    if error:
        field = error.split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
        errors[field if field in ("name", "description", "filter") else "filter"] = error
    campaign_names: list[str] = []
    if viewer.can_change and scope.slug is not None:
        try:
            campaign_names = await actions.campaign_names(
                services_of(request), viewer.principal, organization=_organization(viewer, scope)
            )
        except ActionError:
            campaign_names = []  # an organization that is not there: the page says so
    context = _base_context(viewer, scope) | {
        "activities": ACTIVITIES,
        "campaign_names": campaign_names,
        "segment": segment,
        "values": values,
        "errors": errors,
        "error": error,
        "count_url": f"{SEGMENTS_URL}/count",
        "action": page_url(SEGMENTS_URL, segment.name, "edit")
        if segment
        else f"{SEGMENTS_URL}/new",
        "delete_action": page_url(SEGMENTS_URL, segment.name, "delete") if segment else None,
    }
    return await render(
        request, "audience/segment.html", context, viewer=viewer, status_code=status_code
    )


def _values(form: FormData) -> dict[str, str]:
    return {name: text_of(form, name) for name in ("name", "description", "filter")}


@router.get("/new")
async def new_segment(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    scope = await scope_of(request, viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, segment_url(viewer, scope), "error", READ_ONLY)
    return await _builder(
        request,
        viewer,
        scope,
        segment=None,
        values={"name": "", "description": "", "filter": EVERYONE},
    )


@router.post("/new")
async def create_segment(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(request, segment_url(viewer, scope), "error", READ_ONLY)
    values = _values(form)
    try:
        created = await actions.create_segment(
            services_of(request),
            viewer.principal,
            name=values["name"],
            filter=filter_document(values["filter"]),
            description=optional_text(values["description"]),
            organization=_organization(viewer, scope),
        )
    except ActionError as problem:
        return await _builder(
            request,
            viewer,
            scope,
            segment=None,
            values=values,
            error=_said(problem.detail),
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request,
        segment_url(viewer, scope, created.name),
        "success",
        f"The segment “{created.name}” is saved.",
    )


@router.post("/count")
async def count_fragment(request: Request, viewer: ViewerDep) -> Response:
    """The builder's live count and sample for the filter as typed (an htmx fragment)."""
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    count = None
    error = None
    try:
        count = await actions.count_filter(
            services_of(request),
            viewer.principal,
            filter_document(text_of(form, "filter")),
            organization=_organization(viewer, scope),
        )
    except ActionError as problem:
        error = _said(problem.detail)
    return await render(
        request, "fragments/segment_count.html", {"count": count, "error": error}, viewer=viewer
    )


@router.get("/{name}")
async def segment_page(
    request: Request, viewer: ViewerDep, name: SegmentName, organization: str | None = None
) -> Response:
    scope = await scope_of(request, viewer, organization)
    segment = await actions.get_segment(
        services_of(request), viewer.principal, name, organization=_organization(viewer, scope)
    )
    values = {
        "name": segment.name,
        "description": segment.description or "",
        "filter": shown_filter(segment.filter),
    }
    return await _builder(request, viewer, scope, segment=segment, values=values)


@router.post("/{name}/edit")
async def edit_segment(request: Request, viewer: ViewerDep, name: SegmentName) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(
            request, segment_url(viewer, scope, name), "error", READ_ONLY
        )
    services = services_of(request)
    organization = _organization(viewer, scope)
    segment = await actions.get_segment(services, viewer.principal, name, organization=organization)
    values = _values(form)
    try:
        edited = await actions.edit_segment(
            services,
            viewer.principal,
            name,
            {
                "name": values["name"],
                "description": optional_text(values["description"]),
                "filter": filter_document(values["filter"]),
            },
            organization=organization,
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await _builder(
            request,
            viewer,
            scope,
            segment=segment,
            values=values,
            error=_said(problem.detail),
            status_code=problem.status_code,
        )
    return await flash_and_redirect(
        request,
        segment_url(viewer, scope, edited.name),
        "success",
        f"The segment “{edited.name}” is saved.",
    )


@router.post("/{name}/delete")
async def delete_segment(request: Request, viewer: ViewerDep, name: SegmentName) -> Response:
    form = await checked_form(request)
    scope = await scope_of(request, viewer, text_of(form, "organization"))
    back = segment_url(viewer, scope, name)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        await actions.delete_segment(
            services_of(request), viewer.principal, name, organization=_organization(viewer, scope)
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    viewer.session.flash("success", f"The segment “{name}” is deleted.")
    return await redirect(request, segment_url(viewer, scope))
