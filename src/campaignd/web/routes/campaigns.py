"""The campaign list, and the form to create or edit a campaign (with a CSV of recipients)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from campaignd.actions import campaigns as actions
from campaignd.actions import deferral, frequency
from campaignd.actions.campaign_targets import TargetNames
from campaignd.actions.campaigns import CONTENT_FIELDS, ImportReport, Revision
from campaignd.actions.errors import ActionError, NotFound
from campaignd.actions.import_reports import keep_report
from campaignd.actions.subject_samples import subject_samples
from campaignd.api.params import CampaignId, Cursor
from campaignd.domain.content import LayoutChoice
from campaignd.domain.lifecycle import Action, CampaignStatus, is_allowed
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.campaign_targets import (
    category_choices,
    changed_targets,
    chosen_category,
    chosen_targets,
    target_choices,
)
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.form_errors import FieldError, field_error
from campaignd.web.forms import (
    CampaignForm,
    ChosenTime,
    FormProblem,
    campaign_form,
    deferral_values,
    recipients_of,
)
from campaignd.web.page_parts import organizations_to_choose
from campaignd.web.rendering import flash_and_redirect, redirect, render
from campaignd.web.routes.live_preview import content_fields_context
from campaignd.web.session import services_of
from campaignd.web.timezones import picker_values, shown_zone

router = APIRouter(prefix="/admin/marketing/campaigns", route_class=AdminRoute)

LIST_URL = "/admin/marketing/campaigns"
PAGE_SIZE = 25
READ_ONLY = "You have read-only access: viewers can look but not change anything."


def detail_url(campaign_id: int) -> str:
    return f"{LIST_URL}/{campaign_id}"


def report_url(campaign_id: int, report_id: int) -> str:
    return f"{LIST_URL}/{campaign_id}/imports/{report_id}"


@router.get("")
async def campaign_list(
    request: Request,
    viewer: ViewerDep,
    status: str | None = None,
    cursor: Cursor = None,
) -> Response:
    status = status or None
    error = None
    try:
        rows, next_cursor = await actions.list_campaigns(
            services_of(request), viewer.principal, status=status, cursor=cursor, limit=PAGE_SIZE
        )
    except ActionError as problem:
        rows, next_cursor, error, status = [], None, problem.detail, None
    context = {
        "active": "campaigns",
        "campaigns": rows,
        "samples": await subject_samples(services_of(request), rows),
        "next_cursor": next_cursor,
        "cursor": cursor,
        "status": status,
        "statuses": [item.value for item in CampaignStatus],
        "error": error,
    }
    return await render(request, "campaigns/list.html", context, viewer=viewer)


async def _form_page(
    request: Request,
    viewer: Viewer,
    values: dict[str, Any],
    *,
    campaign: Row | None = None,
    problem: FieldError | None = None,
    csv_name: str | None = None,
    status_code: int = 200,
    chosen: TargetNames | None = None,
) -> Response:
    organization = campaign["organization"] if campaign else values.get("organization")
    if chosen is None:
        chosen = (
            TargetNames(lists=campaign["lists"], segments=campaign["segments"])
            if campaign
            else TargetNames(lists=[], segments=[])
        )
    context = {
        "active": "edit" if campaign else "new",
        "campaign": campaign,
        "values": values,
        "organizations": await organizations_to_choose(request, viewer),
        "default_from": services_of(request).settings.from_address,
        "problem": problem,
        "errors": {problem.field: problem.text} if problem and problem.field else {},
        "csv_name": csv_name,
        "targets": await target_choices(request, viewer, organization),
        "chosen": chosen,
        "categories": await category_choices(request, viewer, organization),
        "category": values.get("category") or (campaign["category"] if campaign else None),
    }
    context |= await content_fields_context(request, viewer, campaign, values)
    return await render(
        request, "campaigns/form.html", context, viewer=viewer, status_code=status_code
    )


def _status_code(problem: Exception) -> int:
    return problem.status_code if isinstance(problem, ActionError) else 422


def problem_of(problem: Exception) -> FieldError:
    """The problem in the form's words, with the field it is about."""
    return field_error(problem.detail if isinstance(problem, ActionError) else str(problem))


async def to_report(
    request: Request, viewer: Viewer, campaign_id: int, report: ImportReport, file_name: str | None
) -> Response:
    """Keep the report of an upload and answer with a redirect to it (Post/Redirect/Get)."""
    report_id = await keep_report(
        services_of(request), viewer.principal, campaign_id, report, file_name
    )
    return await redirect(request, report_url(campaign_id, report_id))


def _zone_of(chosen: ChosenTime | None) -> str | None:
    return None if chosen is None else chosen.zone


@router.get("/new")
async def new_campaign(request: Request, viewer: ViewerDep) -> Response:
    if not viewer.can_change:
        return await flash_and_redirect(request, LIST_URL, "error", READ_ONLY)
    return await _form_page(request, viewer, {})


@router.post("/new")
async def create_campaign(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    if not viewer.can_change:
        return await flash_and_redirect(request, LIST_URL, "error", READ_ONLY)
    parsed: CampaignForm | None = None
    try:
        parsed = await campaign_form(form)
        if parsed.chosen is not None:
            parsed.chosen.check_future(utcnow())
        recipient_list = (
            await recipients_of(parsed.csv_text, services_of(request).settings)
            if parsed.csv_text
            else None
        )
        category_shown, category = chosen_category(form)
        if category_shown:
            await frequency.check_category(
                services_of(request), viewer.principal, category, organization=parsed.organization
            )
        if parsed.deferral is not None:
            deferral.check_deferral(*parsed.deferral, starts=parsed.scheduled_for)
        campaign, report = await actions.create_campaign(
            services_of(request),
            viewer.principal,
            parsed.content,
            organization=parsed.organization,
            recipient_list=recipient_list,
            scheduled_for=parsed.scheduled_for,
            timezone=_zone_of(parsed.chosen),
            targets=chosen_targets(form),
        )
        if category_shown and category is not None:
            await frequency.set_campaign_category(
                services_of(request), viewer.principal, int(campaign["id"]), category
            )
        if parsed.deferral is not None and parsed.deferral[0] != "skip":
            capped, until = parsed.deferral
            await deferral.set_deferral(
                services_of(request),
                viewer.principal,
                int(campaign["id"]),
                capped=capped,
                until=until,
            )
    except (FormProblem, ActionError) as problem:
        values = parsed.values if parsed else {key: form.get(key) for key in form if key}
        values = {key: value for key, value in values.items() if isinstance(value, str)}
        return await _form_page(
            request,
            viewer,
            values,
            problem=problem_of(problem),
            csv_name=parsed.csv_name if parsed else None,
            status_code=_status_code(problem),
            chosen=chosen_targets(form),
        )
    campaign_id = int(campaign["id"])
    when = f"scheduled for {parsed.chosen.local_text()}" if parsed.chosen else "saved as a draft"
    viewer.session.flash("success", f"Campaign “{campaign['name']}” {when}.")
    if report is not None:
        return await to_report(request, viewer, campaign_id, report, parsed.csv_name)
    return await redirect(request, detail_url(campaign_id))


def _values_of(campaign: Row) -> dict[str, Any]:
    """The form's fields for a campaign: its time in the zone it was scheduled in."""
    values = {name: campaign[name] or "" for name in CONTENT_FIELDS}
    values["organization"] = campaign["organization"]
    scheduled_for = campaign["scheduled_for"]
    if scheduled_for is not None and campaign["status"] == CampaignStatus.SCHEDULED:
        values |= picker_values(scheduled_for, campaign["timezone"])
    zone = values.get("timezone") or shown_zone(campaign["timezone"])
    values |= deferral_values(campaign, zone)
    if campaign["defer_until"] is not None:
        values["timezone"] = zone  # the deadline is shown, and read back, in this zone
    return values


async def _editable(request: Request, viewer: Viewer, campaign_id: int) -> Row | Response:
    if not viewer.can_change:
        return await flash_and_redirect(request, detail_url(campaign_id), "error", READ_ONLY)
    campaign = await actions.get_campaign(services_of(request), viewer.principal, campaign_id)
    if not is_allowed(Action.EDIT, CampaignStatus(campaign["status"])):
        text = (
            f"This campaign is {campaign['status']}; "
            "it can be edited only while it is a draft or scheduled."
        )
        return await flash_and_redirect(request, detail_url(campaign_id), "error", text)
    return campaign


def _moved(chosen: ChosenTime | None, campaign: Row) -> bool:
    """A new time or zone was chosen; the form shows minutes, so the same minute in the same
    zone means unchanged."""
    if chosen is None:
        return False
    current = campaign["scheduled_for"]
    if current is None or campaign["status"] != CampaignStatus.SCHEDULED:
        return True
    if chosen.zone != shown_zone(campaign["timezone"]):
        return True
    return chosen.moment not in (current, current.replace(second=0, microsecond=0))


@router.get("/{campaign_id:int}/edit")
async def edit_page(request: Request, viewer: ViewerDep, campaign_id: CampaignId) -> Response:
    campaign = await _editable(request, viewer, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    return await _form_page(request, viewer, _values_of(campaign), campaign=campaign)


@router.post("/{campaign_id:int}/edit")
async def edit_campaign(request: Request, viewer: ViewerDep, campaign_id: CampaignId) -> Response:
    form = await checked_form(request)
    campaign = await _editable(request, viewer, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    services = services_of(request)
    parsed: CampaignForm | None = None
    report = None
    try:
        parsed = await campaign_form(form)
        moved = _moved(parsed.chosen, campaign)
        if moved and parsed.chosen is not None:
            parsed.chosen.check_future(utcnow())
        recipient_list = (
            await recipients_of(parsed.csv_text, services_of(request).settings)
            if parsed.csv_text
            else None
        )
        revision = Revision(
            changes={
                name: getattr(parsed.content, name)
                for name in CONTENT_FIELDS
                if getattr(parsed.content, name) != campaign[name]
                and not isinstance(getattr(parsed.content, name), LayoutChoice)
            },
            recipient_list=recipient_list,
            schedule=parsed.scheduled_for if moved else None,
            timezone=_zone_of(parsed.chosen) if moved else None,
            unschedule=(
                parsed.scheduled_for is None and campaign["status"] == CampaignStatus.SCHEDULED
            ),
            targets=changed_targets(chosen_targets(form), campaign["lists"], campaign["segments"]),
            deferral=parsed.deferral,
        )
        category_shown, category = chosen_category(form)
        if category_shown and category != campaign["category"]:
            await frequency.set_campaign_category(services, viewer.principal, campaign_id, category)
        campaign, report = await actions.revise_campaign(
            services, viewer.principal, campaign_id, revision
        )
    except NotFound:
        raise
    except (FormProblem, ActionError) as problem:
        values = parsed.values if parsed else _values_of(campaign)
        return await _form_page(
            request,
            viewer,
            values,
            campaign=campaign,
            problem=problem_of(problem),
            csv_name=parsed.csv_name if parsed else None,
            status_code=_status_code(problem),
            chosen=chosen_targets(form),
        )
    viewer.session.flash("success", f"Campaign “{campaign['name']}” saved.")
    if report is not None:
        return await to_report(request, viewer, campaign_id, report, parsed.csv_name)
    return await redirect(request, detail_url(campaign_id))
