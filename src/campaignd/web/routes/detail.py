"""One campaign: status, live progress, outcomes, eligibility, runs, chart, and its actions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from campaignd.actions import campaigns as actions
from campaignd.actions import clones
from campaignd.actions.dkim import signing_of_campaign
from campaignd.actions.errors import ActionError, Invalid, NotFound
from campaignd.actions.feedback import campaign_figures
from campaignd.actions.import_reports import stored_report
from campaignd.actions.message_preview import MessagePreview, preview_message
from campaignd.api.params import CampaignId, Cursor, RecipientId
from campaignd.domain.lifecycle import CampaignStatus, DeliveryStatus
from campaignd.store.charts import sent_per_hour
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row
from campaignd.store.runs import runs_of_campaign
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.charts import hourly_chart
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.form_errors import FieldError
from campaignd.web.forms import FormProblem, chosen_time, csv_of, recipients_of, text_of
from campaignd.web.page_parts import sentence
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import LIST_URL, READ_ONLY, detail_url, problem_of, to_report
from campaignd.web.session import services_of
from campaignd.web.timezones import picker_values

router = APIRouter(prefix="/admin/marketing/campaigns/{campaign_id:int}", route_class=AdminRoute)

RECIPIENTS_PAGE = 25
PREVIEW_REASONS = 50
PREVIEWED = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.MISSED}
RETURN_PLACES = {"scheduled": "/admin/marketing/campaigns/scheduled", "list": LIST_URL}


async def _message(
    request: Request, viewer: Viewer, campaign_id: int, sample: int | None
) -> tuple[MessagePreview, str | None]:
    """The message as one recipient gets it, and a note when the chosen one is not there."""
    services = services_of(request)
    try:
        return await preview_message(
            services, viewer.principal, campaign_id, recipient_id=sample
        ), None
    except Invalid:
        note = "The chosen recipient is not one of this campaign's recipients (any more)."
        return await preview_message(services, viewer.principal, campaign_id), note


def _sample_choices(deliveries: list[Row], message: MessagePreview) -> list[tuple[int, str]]:
    """Recipients offered in the preview picker: those on the page, and the one shown."""
    choices = [(int(row["id"]), str(row["email"])) for row in deliveries]
    if message.recipient_id is not None and all(
        choice != message.recipient_id for choice, _ in choices
    ):
        choices.insert(0, (message.recipient_id, str(message.recipient)))
    return choices


@router.get("")
async def campaign_page(
    request: Request,
    viewer: ViewerDep,
    campaign_id: CampaignId,
    recipients: str | None = None,
    after: Cursor = None,
    sample: RecipientId = None,
) -> Response:
    return await _campaign_page(
        request, viewer, campaign_id, recipients=recipients, after=after, sample=sample
    )


async def _campaign_page(
    request: Request,
    viewer: Viewer,
    campaign_id: int,
    *,
    recipients: str | None = None,
    after: int | None = None,
    sample: int | None = None,
    schedule_problem: FieldError | None = None,
    schedule_values: dict[str, str] | None = None,
    upload_problem: FieldError | None = None,
    status_code: int = 200,
) -> Response:
    services = services_of(request)
    campaign = await actions.get_campaign(services, viewer.principal, campaign_id)
    delivery_statuses = [item.value for item in DeliveryStatus]
    recipient_status = recipients if recipients in delivery_statuses else None
    deliveries, next_after = await actions.list_recipients(
        services,
        viewer.principal,
        campaign_id,
        status=recipient_status,
        cursor=after,
        limit=RECIPIENTS_PAGE,
    )
    preview = None
    if _previewed(campaign):
        preview = await actions.preview_campaign(
            services, viewer.principal, campaign_id, limit=PREVIEW_REASONS
        )
    message, sample_note = await _message(request, viewer, campaign_id, sample)
    signing = await signing_of_campaign(services, campaign)
    figures = await campaign_figures(
        services, viewer.principal, campaign_id, counts=campaign["counts"]
    )
    async with services.database.connection() as connection:
        runs = await runs_of_campaign(connection, campaign_id)
        chart = hourly_chart(await sent_per_hour(connection, campaign_id))
    context = {
        "active": "campaigns",
        "campaign": campaign,
        "deliveries": deliveries,
        "next_after": next_after,
        "after": after,
        "recipient_status": recipient_status,
        "delivery_statuses": delivery_statuses,
        "preview": preview,
        "signing": signing,
        "figures": figures,
        "runs": runs,
        "chart": chart,
        "page_size": RECIPIENTS_PAGE,
        "message": message,
        "sample_note": sample_note,
        "sample_choices": _sample_choices(deliveries, message),
        "schedule_problem": schedule_problem,
        "schedule_errors": (
            {schedule_problem.field: schedule_problem.text}
            if schedule_problem and schedule_problem.field
            else {}
        ),
        "schedule_values": schedule_values or _schedule_values(campaign),
        "upload_errors": {"recipients": upload_problem.text} if upload_problem else {},
    }
    return await render(
        request, "campaigns/detail.html", context, viewer=viewer, status_code=status_code
    )


def _previewed(campaign: Row) -> bool:
    """Whether the page shows the eligibility preview: before the campaign starts, when it
    has recipients or lists and segments (whose contacts are only counted by the preview)."""
    audience = campaign["recipient_count"] or campaign["lists"] or campaign["segments"]
    return CampaignStatus(campaign["status"]) in PREVIEWED and bool(audience)


def _schedule_values(campaign: Row) -> dict[str, str]:
    """The schedule form starts on the campaign's time, in the zone it was scheduled in."""
    if campaign["scheduled_for"] is None or campaign["status"] != CampaignStatus.SCHEDULED:
        return {}
    return picker_values(campaign["scheduled_for"], campaign["timezone"])


@router.get("/imports/{report_id:int}")
async def import_report_page(
    request: Request, viewer: ViewerDep, campaign_id: int, report_id: int
) -> Response:
    """The report of one CSV upload, with when the campaign goes out and who would get it."""
    services = services_of(request)
    report = await stored_report(services, viewer.principal, campaign_id, report_id)
    campaign = await actions.get_campaign(services, viewer.principal, campaign_id)
    preview = None
    if _previewed(campaign):
        preview = await actions.preview_campaign(services, viewer.principal, campaign_id, limit=1)
    context = {"active": "campaigns", "campaign": campaign, "report": report, "preview": preview}
    return await render(request, "campaigns/imported.html", context, viewer=viewer)


@router.get("/progress")
async def progress_fragment(
    request: Request, viewer: ViewerDep, campaign_id: CampaignId, shown: str | None = None
) -> Response:
    """The progress card; when the status moved on, the page reloads to offer the right buttons."""
    campaign = await actions.get_campaign(services_of(request), viewer.principal, campaign_id)
    headers = {"HX-Refresh": "true"} if shown and shown != campaign["status"] else None
    return await render(
        request,
        "fragments/progress.html",
        {"campaign": campaign},
        viewer=viewer,
        headers=headers,
    )


def _back(form_value: str, campaign_id: int) -> str:
    return RETURN_PLACES.get(form_value, detail_url(campaign_id))


@router.post("/recipients")
async def upload_recipients(
    request: Request, viewer: ViewerDep, campaign_id: CampaignId
) -> Response:
    form = await checked_form(request)
    if not viewer.can_change:
        return await flash_and_redirect(request, detail_url(campaign_id), "error", READ_ONLY)
    services = services_of(request)
    try:
        await actions.check_recipients_welcome(services, viewer.principal, campaign_id)
        file_name, text = await csv_of(form)
        if text is None:
            raise FormProblem('recipients: choose a CSV file with an "email" column')
        recipients = await recipients_of(text, services.settings)
        report = await actions.add_recipients(services, viewer.principal, campaign_id, recipients)
    except NotFound:
        raise
    except (FormProblem, ActionError) as problem:
        found = problem_of(problem)
        if found.field != "recipients":
            return await flash_and_redirect(request, detail_url(campaign_id), "error", found.text)
        return await _campaign_page(
            request, viewer, campaign_id, upload_problem=found, status_code=422
        )
    return await to_report(request, viewer, campaign_id, report, file_name)


async def _schedule(request: Request, viewer: Viewer, campaign_id: int, form: FormData) -> Response:
    """Every field is read and checked before anything is written; a problem re-renders the
    page with the message (422) and changes nothing."""
    services, principal = services_of(request), viewer.principal
    try:
        chosen = chosen_time(form)
        if chosen is None:
            raise FormProblem("date: choose the date and time to send it")
        chosen.check_future(utcnow())
    except FormProblem as problem:
        if not viewer.can_change:
            return await flash_and_redirect(request, detail_url(campaign_id), "error", READ_ONLY)
        typed = {name: text_of(form, name) for name in ("date", "time", "timezone")}
        return await _campaign_page(
            request,
            viewer,
            campaign_id,
            schedule_problem=problem_of(problem),
            schedule_values=typed,
            status_code=422,
        )
    campaign = await actions.schedule(
        services, principal, campaign_id, chosen.moment, timezone=chosen.zone
    )
    return await flash_and_redirect(
        request,
        detail_url(campaign_id),
        "success",
        f"“{campaign['name']}” is scheduled for {chosen.local_text()}.",
    )


@router.post("/{action}")
async def campaign_action(
    request: Request, viewer: ViewerDep, campaign_id: CampaignId, action: str
) -> Response:
    form = await checked_form(request)
    back = _back(text_of(form, "return_to"), campaign_id)
    services, principal = services_of(request), viewer.principal
    try:
        if action == "schedule":
            return await _schedule(request, viewer, campaign_id, form)
        if action == "execute":
            run = await actions.execute(services, principal, campaign_id)
            campaign = await actions.get_campaign(services, principal, campaign_id)
            message = f"“{campaign['name']}” is sending now (run {run['id']})."
        elif action == "clone":
            copy = await clones.clone_campaign(services, principal, campaign_id)
            return await flash_and_redirect(
                request,
                f"{LIST_URL}/{copy['id']}",
                "success",
                f"“{copy['name']}” is a new draft with {copy['recipient_count']:,} recipients.",
            )
        elif action == "delete":
            campaign = await actions.get_campaign(services, principal, campaign_id)
            await actions.delete_campaign(services, principal, campaign_id)
            return await flash_and_redirect(
                request, LIST_URL, "success", f"“{campaign['name']}” was deleted."
            )
        elif action in _SIMPLE:
            verb, function = _SIMPLE[action]
            campaign = await function(services, principal, campaign_id)
            message = f"“{campaign['name']}” {verb}."
        else:
            raise NotFound(f"no action '{action}'")
    except NotFound:
        raise
    except (FormProblem, ActionError) as problem:
        text = problem.detail if isinstance(problem, ActionError) else str(problem)
        return await flash_and_redirect(request, back, "error", sentence(text))
    return await flash_and_redirect(request, back, "success", message)


_SIMPLE = {
    "unschedule": ("is a draft again", actions.unschedule),
    "pause": ("is paused", actions.pause),
    "resume": ("is sending again", actions.resume),
    "cancel": ("is cancelled; nothing more will be sent", actions.cancel),
}
