"""The suppression list: an organization's addresses that are never mailed; add, look up,
remove, and the whole list as a CSV file (export, import with its report)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from campaignd.actions import suppression_files
from campaignd.actions import suppressions as actions
from campaignd.actions.errors import ActionError
from campaignd.api.params import MAX_ID
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.store.rows import Row
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import FormProblem, text_of
from campaignd.web.page_parts import (
    chosen_organization,
    listed,
    optional_text,
    sentence,
)
from campaignd.web.rendering import flash_and_redirect, protect, redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/suppressions"
PAGE_SIZE = 50
ReportId = Annotated[int, Path(ge=1, le=MAX_ID)]

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def page_url(**params: str | None) -> str:
    """The page with the given query parameters (empty ones left out)."""
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{PAGE_URL}?{query}" if query else PAGE_URL


def export_url(**params: str | None) -> str:
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{PAGE_URL}/export?{query}" if query else f"{PAGE_URL}/export"


def report_url(report_id: int) -> str:
    return f"{PAGE_URL}/imports/{report_id}"


async def _lookup(
    request: Request, viewer: Viewer, address: str | None, organization: str | None
) -> dict[str, Any] | None:
    """Whether one address is on the list, with its reason, or the problem in words."""
    if address is None:
        return None
    try:
        _, email, entry = await actions.find_suppression(
            services_of(request), viewer.principal, address, organization=organization
        )
    except ActionError as problem:
        return {"email": address, "reason": None, "error": sentence(problem.detail)}
    if entry is None:
        return {"email": email, "reason": None, "error": None}
    return {
        "email": email,
        "reason": entry["reason"],
        "detail": entry["detail"],
        "created_at": entry["created_at"],
        "error": None,
    }


async def _page(
    request: Request,
    viewer: Viewer,
    *,
    organization: str | None,
    reason: str | None,
    after: str | None,
    address: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    import_error: str | None = None,
    status_code: int = 200,
) -> Response:
    organizations, organization = await chosen_organization(request, viewer, organization)
    found, list_error = await listed(
        request,
        viewer,
        organization,
        actions.list_suppressions,
        reason=reason,
        cursor=after,
        limit=PAGE_SIZE,
    )
    rows: list[Row] = []
    next_cursor = None
    slug = organization or viewer.principal.organization_slug
    if found is not None:
        slug, rows, next_cursor = found
    context = {
        "active": "suppressions",
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "reasons": actions.REASONS,
        "reason": reason,
        "after": after,
        "rows": rows,
        "next_url": page_url(organization=organization, reason=reason, after=next_cursor)
        if next_cursor
        else None,
        "first_url": page_url(organization=organization, reason=reason) if after else None,
        "page_url": page_url,
        "list_error": list_error,
        "lookup": await _lookup(request, viewer, address, organization),
        "error": error,
        "values": values or {},
        "import_error": import_error,
        "export_url": export_url(organization=organization, reason=reason),
    }
    return await render(
        request, "suppressions.html", context, viewer=viewer, status_code=status_code
    )


@router.get("")
async def suppression_page(
    request: Request,
    viewer: ViewerDep,
    organization: str | None = None,
    reason: str | None = None,
    after: str | None = None,
    address: str | None = None,
) -> Response:
    return await _page(
        request,
        viewer,
        organization=optional_text(organization),
        reason=optional_text(reason),
        after=optional_text(after),
        address=optional_text(address),
    )


def _back(viewer: Viewer, organization: str | None, reason: str | None = None) -> str:
    """The page after a change: the organization is in the address for platform admins only."""
    return page_url(organization=organization if viewer.is_platform_admin else None, reason=reason)


def _address_of(value: str, missing: str) -> str:
    if not value.strip():
        raise FormProblem(f"email: {missing}")
    try:
        return normalise(value)
    except InvalidAddress as problem:
        raise FormProblem(f"email: '{value.strip()}' is not a valid address: {problem}") from None


def _reason_of(value: str) -> str:
    if value not in actions.REASONS:
        choices = ", ".join(actions.REASONS)
        shown = f"'{value}' is not a reason" if value else "choose a reason"
        raise FormProblem(f"reason: {shown} (one of {choices})")
    return value


@router.post("/add")
async def add_suppression(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    values = {"email": text_of(form, "email"), "reason": text_of(form, "reason").strip()}
    try:
        email = _address_of(values["email"], "enter the address to suppress")
        reason = _reason_of(values["reason"])
        change = await actions.add_suppressions(
            services_of(request),
            viewer.principal,
            [email],
            reason=reason,
            organization=organization,
        )
    except (FormProblem, ActionError) as problem:
        text = problem.detail if isinstance(problem, ActionError) else str(problem)
        status_code = problem.status_code if isinstance(problem, ActionError) else 422
        return await _page(
            request,
            viewer,
            organization=organization,
            reason=None,
            after=None,
            error=sentence(text),
            values=values,
            status_code=status_code,
        )
    if change.changed:
        return await flash_and_redirect(
            request, back, "success", f"{email} is suppressed ({reason}): it will not be mailed."
        )
    return await flash_and_redirect(
        request, back, "info", f"{email} was already suppressed; its reason stays as it was."
    )


@router.post("/remove")
async def remove_suppression(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization, optional_text(text_of(form, "reason")))
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        email = _address_of(text_of(form, "email"), "name the address to remove")
        change = await actions.remove_suppressions(
            services_of(request), viewer.principal, [email], organization=organization
        )
    except (FormProblem, ActionError) as problem:
        text = problem.detail if isinstance(problem, ActionError) else str(problem)
        return await flash_and_redirect(request, back, "error", sentence(text))
    if change.changed:
        return await flash_and_redirect(
            request,
            back,
            "success",
            f"{email} is off the suppression list and can be mailed again.",
        )
    return await flash_and_redirect(
        request, back, "info", f"{email} was not on the suppression list; nothing changed."
    )


@router.get("/export")
async def export_suppressions(
    request: Request, viewer: ViewerDep, organization: str | None = None, reason: str | None = None
) -> Response:
    """The list (or one reason's part of it) as a CSV download, streamed a page at a time."""
    organization, reason = optional_text(organization), optional_text(reason)
    try:
        export = await suppression_files.export_suppressions(
            services_of(request), viewer.principal, organization=organization, reason=reason
        )
    except ActionError as problem:
        back = _back(viewer, organization)
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))

    async def body() -> AsyncIterator[bytes]:
        async for text in export.lines():
            yield text.encode("utf-8")

    response = StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.file_name}"'},
    )
    return protect(response)


@router.post("/import")
async def import_suppressions(request: Request, viewer: ViewerDep) -> Response:
    """Import an uploaded CSV, then show its report on a page of its own (Post/Redirect/Get:
    reloading the report imports nothing)."""
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    if not viewer.can_change:
        return await flash_and_redirect(request, _back(viewer, organization), "error", READ_ONLY)
    upload = form.get("file")
    reason = text_of(form, "reason").strip() or "manual"
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormProblem("file: choose a CSV file with an 'email' column")
        done = await suppression_files.import_suppressions(
            services_of(request),
            viewer.principal,
            upload.file,
            organization=organization,
            reason=_reason_of(reason),
            file_name=upload.filename,
        )
    except (FormProblem, ActionError) as problem:
        text = problem.detail if isinstance(problem, ActionError) else str(problem)
        status_code = problem.status_code if isinstance(problem, ActionError) else 422
        return await _page(
            request,
            viewer,
            organization=organization,
            reason=None,
            after=None,
            import_error=sentence(text),
            status_code=status_code,
        )
    return await redirect(request, report_url(done.id))


@router.get("/imports/{report_id}")
async def import_report_page(request: Request, viewer: ViewerDep, report_id: ReportId) -> Response:
    """The report of one import: counts, and the rows skipped with their row numbers."""
    report = await suppression_files.import_report(
        services_of(request), viewer.principal, report_id
    )
    context = {
        "active": "suppressions",
        "report": report,
        "back_url": _back(viewer, report.organization),
        "invalid_kept": suppression_files.INVALID_KEPT,
    }
    return await render(request, "suppressions_import.html", context, viewer=viewer)
