"""Campaign actions: create, read, list, edit, delete, recipients, lifecycle, preview."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.campaign_targets import TargetNames, save_targets
from campaignd.actions.campaign_timing import (
    campaign_waves,
    timing_fields,
    with_first_and_last_wave,
    with_wave_progress,
    zone_fallbacks,
)
from campaignd.actions.dkim import Signing, campaign_signing
from campaignd.actions.errors import Conflict, Invalid, NotFound, UnknownName
from campaignd.actions.layouts import default_layout_name, layout_for_campaign
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.delivery.messages import render_limits, template_thread
from campaignd.domain.addresses import InvalidAddress, parse_mailbox
from campaignd.domain.content import (
    ContentProblem,
    Layout,
    LayoutChoice,
    checked_body_format,
    compose,
)
from campaignd.domain.deferral import (
    Deferral,
    DeferralProblem,
    check_deadline_after,
    checked_deferral,
)
from campaignd.domain.lifecycle import Action, CampaignStatus, Trigger, is_allowed, refusal
from campaignd.domain.recipients import InvalidRow, RecipientLimits, RecipientList
from campaignd.domain.template_variables import recipient_variables
from campaignd.domain.templates import RenderLimits, TemplateProblem, compile_campaign
from campaignd.settings import Settings
from campaignd.store import audit, campaign_targets, campaigns, organizations, recipients, runs
from campaignd.store.campaign_audience import campaign_audience
from campaignd.store.columns import utcnow
from campaignd.store.fanout import CooldownRules, eligibility
from campaignd.store.feedback import figures_of
from campaignd.store.ledger import scope_of
from campaignd.store.rows import Row
from campaignd.store.variables import MAX_VARIABLES, lacking_variables

CONTENT_FIELDS = (
    "name",
    "subject",
    "html_body",
    "text_body",
    "from_address",
    "reply_to",
    "body_format",
    "layout",
    "track_clicks",
    "track_opens",
)
FIELD_LENGTHS = {"name": 200, "from_address": 320, "reply_to": 320}
"""The columns' sizes: checked here, so every edge (API, admin form, campaign file) says so
in words instead of the database refusing the row."""
EDIT_ATTEMPTS = 3


@dataclass(frozen=True)
class CampaignContent:
    name: str
    subject: str
    html_body: str | None = None
    text_body: str | None = None
    from_address: str | None = None
    reply_to: str | None = None
    body_format: str = "html"
    layout: str | LayoutChoice | None = LayoutChoice.ORGANIZATION_DEFAULT
    """A layout's name, None for none, or the organization's default (when created)."""
    track_clicks: bool = True
    """Links in the HTML body are tracked (docs/tracking.md); on for new campaigns."""
    track_opens: bool = False


@dataclass(frozen=True)
class ImportReport:
    added: int
    duplicates: int
    invalid: list[InvalidRow]
    erased: int = 0
    """Addresses the organization erased: left out, never stored again."""


@dataclass(frozen=True)
class MissingVariable:
    """A variable the templates print that some recipients have no value for."""

    name: str
    recipients: int
    empty_only: bool
    """The templates fall back when the key is absent (``default(...)``), so only the
    recipients whose value is null or empty are counted: they see it blank all the same."""
    seen_as: str | None
    """The text around where it is printed, as those recipients read it ("Hi !")."""
    sample: list[str]
    """A few of their addresses."""
    sample_ids: list[int | None]
    """Their deliveries, in the order of ``sample`` (to preview their message); None for a
    contact of the campaign's lists and segments, who has none before the fan-out."""

    def sentence(self) -> str:
        """``12 recipients have no first_name: they will see “Hi !”``."""
        who = "1 recipient has" if self.recipients == 1 else f"{self.recipients} recipients have"
        if self.empty_only:
            lack = f"an empty {self.name}, which default(...) does not replace"
        else:
            lack = f"no {self.name}"
        if self.seen_as:
            return f"{who} {lack}: they will see “{self.seen_as}”"
        return f"{who} {lack}: their message will have nothing where it goes"


@dataclass(frozen=True)
class Preview:
    campaign_id: int
    campaign_name: str
    total_recipients: int
    eligible: int
    ineligible: int
    reasons: list[dict[str, str]]
    missing_variables: list[MissingVariable]
    unchecked_variables: list[str]
    """Variables beyond the first ``MAX_VARIABLES`` (by name), not counted."""
    dkim: Signing | None = None
    """How its messages are signed (None: the From address cannot be read)."""
    waves: list[dict[str, Any]] = field(default_factory=list)
    """A local-time campaign's waves (zone, local time, UTC instant, recipients)."""
    zone_fallbacks: list[dict[str, str]] = field(default_factory=list)
    """Recipients whose ``timezone`` is not a zone, and the default zone they get."""
    deferred: int = 0
    """Eligible recipients a frequency rule caps now, deferred until it frees a slot
    (a campaign that defers capped recipients; ``reasons`` lists them, code ``deferred``)."""
    defer_until: datetime | None = None
    """The deadline of those deferrals (None: capped recipients are skipped)."""


def cooldown_rules(services: Services) -> CooldownRules:
    return CooldownRules(
        days=services.settings.cooldown_days, scope=services.settings.cooldown_scope
    )


async def _check_content(
    services: Services, content: dict[str, Any], layout: Layout | None = None
) -> None:
    """Names the field that is wrong: empty name or subject, no body, bad template or address.

    The templates are compiled and tried in a template thread, within the render limits:
    a template that goes over them is refused with the limit it went over. They are tried
    as written (so that a problem's line is the field's) and as sent, in ``layout``.
    """
    try:
        checked_body_format(content.get("body_format") or "html")
    except ContentProblem as problem:
        raise Invalid(str(problem)) from None
    for name in ("name", "subject"):
        if not (content.get(name) or "").strip():
            raise Invalid(f"{_api_name(name)}: must not be empty")
    for name, longest in FIELD_LENGTHS.items():
        value = content.get(name)
        if value is not None and len(value) > longest:
            raise Invalid(
                f"{_api_name(name)}: {len(value):,} characters; at most {longest:,} are allowed"
            )
    if not (content.get("html_body") or content.get("text_body")):
        raise Invalid("htmlBody or textBody: a campaign needs at least one body")
    for name in ("from_address", "reply_to"):
        value = content.get(name)
        if value:
            try:
                parse_mailbox(value)
            except InvalidAddress as error:
                raise Invalid(f"{_api_name(name)}: {error}") from None
    try:
        await template_thread(
            compile_campaign,
            content["subject"],
            content.get("html_body"),
            content.get("text_body"),
            limits=render_limits(services.settings),
        )
        await template_thread(_compile_composed, content, layout, render_limits(services.settings))
    except (TemplateProblem, ContentProblem) as problem:
        raise Invalid(str(problem)) from None


def _compile_composed(content: dict[str, Any], layout: Layout | None, limits: RenderLimits) -> None:
    """The templates as sent: the body in its format, in its layout."""
    composed = compose(
        html_body=content.get("html_body"),
        text_body=content.get("text_body"),
        body_format=content.get("body_format") or "html",
        layout=layout,
    )
    try:
        compile_campaign(content["subject"], composed.html, composed.text, limits=limits)
    except TemplateProblem as problem:
        where = "layout" if layout is not None else problem.field
        raise TemplateProblem(where, problem.reason) from None


async def _campaign_layout(
    services: Services, organization_id: int, content: dict[str, Any]
) -> Layout | None:
    """The layout ``content`` names, checked (Invalid when the organization has none so named)."""
    async with services.database.connection() as connection:
        return await layout_for_campaign(connection, organization_id, content.get("layout"))


async def _check_saved_content(services: Services, principal: Principal, campaign_id: int) -> Row:
    """The campaign's templates still compile and render within today's limits (they may
    have been saved under other limits, or before a rule of the sandbox was added).
    Returns the campaign as read."""
    async with services.database.connection() as connection:
        campaign = await _campaign_in_scope(connection, principal, campaign_id)
        layout = await layout_for_campaign(
            connection, int(campaign["organization_id"]), campaign["layout"]
        )
    await _check_content(services, {name: campaign[name] for name in CONTENT_FIELDS}, layout)
    return campaign


def check_deadline(campaign: Row, starts: datetime) -> None:
    """A campaign that defers capped recipients starts before its deferral deadline."""
    try:
        check_deadline_after(campaign, starts)
    except DeferralProblem as error:
        raise Invalid(str(error)) from None


def _api_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def check_schedule_time(when: datetime, now: datetime) -> None:
    if when.tzinfo is None:
        raise Invalid("scheduledFor: needs a time zone offset, like 2026-12-01T09:00:00+01:00 or Z")
    if when <= now:
        raise Invalid(f"scheduledFor: {when.isoformat()} is in the past; choose a future time")


def check_timezone(name: str | None) -> None:
    """``timezone``, when given, is an IANA zone name (``Europe/Berlin``)."""
    if name is None:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone: unknown time zone '{name[:64]}'") from None


async def _organization_for(
    connection: AsyncConnection, principal: Principal, slug: str | None
) -> int:
    if principal.role is Role.PLATFORM_ADMIN:
        if not slug:
            raise Invalid("organization: required for a platform admin (an organization slug)")
        row = await organizations.organization_by_slug(connection, slug)
        if row is None:
            raise UnknownName(f"organization: no organization '{slug}'")
        return int(row["id"])
    assert principal.organization_id is not None
    if slug and slug != principal.organization_slug:
        raise Invalid(f"organization: you belong to '{principal.organization_slug}', not '{slug}'")
    return principal.organization_id


async def _campaign_in_scope(
    connection: AsyncConnection, principal: Principal, campaign_id: int
) -> Row:
    """The campaign, if the principal may see it; otherwise 404 (never "forbidden")."""
    campaign = await campaigns.get_campaign(
        connection, campaign_id, organization_id=principal.scope
    )
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def _refuse(
    connection: AsyncConnection, principal: Principal, campaign_id: int, action: Action
) -> Exception:
    """Why a conditional update changed nothing: not found (404) or not allowed now (409)."""
    campaign = await _campaign_in_scope(connection, principal, campaign_id)
    return Conflict(refusal(action, campaign["status"]))


async def _audit(
    connection: AsyncConnection,
    principal: Principal,
    action: str,
    campaign_id: int,
    organization_id: int,
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write ``campaign.<action>`` to the audit log with the principal as actor."""
    await audit.record(
        connection,
        actor=principal.actor,
        action=f"campaign.{action}",
        organization_id=organization_id,
        target=str(campaign_id),
        detail=detail,
    )


async def _view(
    connection: AsyncConnection,
    campaign_id: int,
    *,
    services: Services | None = None,
    kept: bool = False,
    campaign: Row | None = None,
) -> Row:
    """The campaign with its counts and targets. Counted now (and, given ``services``, kept
    for the next requests), or with ``kept`` as ``services.counts`` keeps them (a large
    campaign's counts, at most seconds old). ``campaign``: its row, when the caller has
    just read it."""
    if campaign is None:
        campaign = await campaigns.get_campaign(connection, campaign_id)
    assert campaign is not None
    if services is not None and kept:
        counted = await services.counts.of(connection, services.database, [campaign_id])
        counts = counted[campaign_id]
    else:
        counts = (await campaigns.delivery_counts(connection, [campaign_id]))[campaign_id]
        if services is not None:
            services.counts.remember(campaign_id, counts)
    campaign["counts"] = counts
    campaign["recipient_count"] = sum(counts.values())
    targets = (await campaign_targets.targets_of(connection, [campaign_id]))[campaign_id]
    campaign["lists"], campaign["segments"] = targets.lists, targets.segments
    campaign |= await timing_fields(connection, campaign, now=utcnow())  # local time, windows
    return campaign


async def get_campaign(
    services: Services, principal: Principal, campaign_id: int, *, with_figures: bool = False
) -> Row:
    """The campaign's view; ``with_figures``: its ``figures`` too (``store.feedback``),
    read in the same transaction."""
    async with services.database.connection() as connection:
        campaign = await _campaign_in_scope(connection, principal, campaign_id)
        view = await _view(connection, campaign_id, services=services, kept=True, campaign=campaign)
        if with_figures:
            view["figures"] = await figures_of(connection, campaign_id, view["counts"])
        return view


async def list_campaigns(
    services: Services,
    principal: Principal,
    *,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[Row], int | None]:
    """A page of campaigns (newest first) and the cursor of the next page, if any."""
    if status is not None and status not in {item.value for item in CampaignStatus}:
        raise Invalid(f"status: unknown status '{status}'")
    async with services.database.connection() as connection:
        rows = await campaigns.list_campaigns(
            connection,
            organization_id=principal.scope,
            status=status,
            before_id=cursor,
            limit=limit + 1,
        )
        page = rows[:limit]
        page_ids = [int(row["id"]) for row in page]
        counts = await services.counts.of(connection, services.database, page_ids)
        targets = await campaign_targets.targets_of(connection, page_ids)
    for row in page:
        row["counts"] = counts[int(row["id"])]
        row["recipient_count"] = sum(row["counts"].values())
        row["lists"] = targets[int(row["id"])].lists
        row["segments"] = targets[int(row["id"])].segments
    next_cursor = int(page[-1]["id"]) if len(rows) > limit else None
    return page, next_cursor


async def create_campaign(
    services: Services,
    principal: Principal,
    content: CampaignContent,
    *,
    organization: str | None = None,
    recipient_list: RecipientList | None = None,
    scheduled_for: datetime | None = None,
    timezone: str | None = None,
    targets: TargetNames | None = None,
) -> tuple[Row, ImportReport | None]:
    """``timezone``: the zone ``scheduled_for`` was chosen in, kept to show it in;
    ``targets``: the lists and segments it is sent to beside its recipients."""
    principal.require_change()
    values = asdict(content)
    async with services.database.connection() as connection:
        organization_id = await _organization_for(connection, principal, organization)
        if values["layout"] is LayoutChoice.ORGANIZATION_DEFAULT:
            values["layout"] = await default_layout_name(connection, organization_id)
    await _check_content(
        services, values, await _campaign_layout(services, organization_id, values)
    )
    now = utcnow()
    if scheduled_for is not None:
        check_schedule_time(scheduled_for, now)
        check_timezone(timezone)
    async with services.database.transaction() as connection:
        organization_id = await _organization_for(connection, principal, organization)
        campaign_id = await campaigns.create_campaign(
            connection, organization_id=organization_id, actor=principal.actor, **values
        )
        report = None
        if recipient_list is not None:
            report = await _insert_recipients(connection, campaign_id, recipient_list)
        if targets:
            await save_targets(connection, campaign_id, organization_id, targets)
        if scheduled_for is not None:
            await campaigns.transition(
                connection,
                campaign_id,
                Action.SCHEDULE,
                scheduled_for=scheduled_for,
                timezone=timezone,
            )
        detail = {"name": content.name, "recipients": report.added if report else 0}
        await _audit(
            connection,
            principal,
            "create",
            campaign_id,
            organization_id,
            detail=detail | (targets.detail() if targets else {}),
        )
        view = await _view(connection, campaign_id, services=services)
    if scheduled_for is not None:
        await services.wakeups.notify("scheduler")
    return view, report


async def edit_campaign(
    services: Services,
    principal: Principal,
    campaign_id: int,
    changes: dict[str, Any],
    *,
    targets: TargetNames | None = None,
) -> Row:
    """Change content fields (``CONTENT_FIELDS``) and the lists and segments it targets
    while the campaign is a draft or scheduled.

    The merged content is checked (its templates tried) before the writer transaction, so
    a slow template never holds the database's write lock; the transaction then makes sure
    the fields that were not changed are still the ones checked.
    """
    principal.require_change()
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise Invalid(f"{_api_name(sorted(unknown)[0])}: cannot be edited")
    for _attempt in range(EDIT_ATTEMPTS):
        if changes:
            async with services.database.connection() as connection:
                checked = await _campaign_in_scope(connection, principal, campaign_id)
            merged = {name: checked[name] for name in CONTENT_FIELDS} | changes
            layout = await _campaign_layout(services, int(checked["organization_id"]), merged)
            await _check_content(services, merged, layout)
        async with services.database.transaction() as connection:
            current = await _campaign_in_scope(connection, principal, campaign_id)
            if changes and any(current[name] != checked[name] for name in CONTENT_FIELDS):
                continue  # edited meanwhile: check the new combination
            updated = await campaigns.transition(
                connection, campaign_id, Action.EDIT, organization_id=principal.scope, **changes
            )
            if updated is None:
                raise await _refuse(connection, principal, campaign_id, Action.EDIT)
            organization_id = int(current["organization_id"])
            detail: dict[str, Any] = {"fields": sorted(changes)}
            if targets:
                await save_targets(connection, campaign_id, organization_id, targets)
                detail = {"fields": sorted([*changes, *targets.fields()]), **targets.detail()}
            await _audit(connection, principal, "edit", campaign_id, organization_id, detail=detail)
            return await _view(connection, campaign_id, services=services)
    raise Conflict("the campaign was being edited by someone else at the same time; try again")


@dataclass(frozen=True)
class Revision:
    """What one save of the edit form changes; every part optional."""

    changes: dict[str, Any]
    """Content fields (``CONTENT_FIELDS``) with their new values."""
    recipient_list: RecipientList | None = None
    schedule: datetime | None = None
    """A new scheduled time (None: leave the time alone)."""
    timezone: str | None = None
    """The zone the new time was chosen in."""
    unschedule: bool = False
    targets: TargetNames | None = None
    """Lists and segments to target instead (None: leave them as they are)."""
    deferral: tuple[str, datetime | None] | None = None
    """``(capped_recipients, defer_until)`` as chosen (None: leave them as they are)."""


def _revised_deferral(saved: Row, revision: Revision) -> dict[str, Any]:
    """The deferral columns a revision sets ({} for none), checked against the campaign's
    start after the revision; a new start is checked against the deadline kept."""
    unchanged = revision.deferral is None or (
        revision.deferral[0] == saved["capped_recipients"]
        and _same_minute(revision.deferral[1], saved["defer_until"])
    )  # a form shows minutes: the same minute is the deadline kept, not checked again
    if unchanged or revision.deferral is None:
        if revision.schedule is not None:
            check_deadline(saved, revision.schedule)
        return {}
    starts = revision.schedule
    if starts is None and not revision.unschedule and saved["status"] == "scheduled":
        starts = saved["scheduled_for"]
    now = utcnow()
    try:
        capped, until = checked_deferral(*revision.deferral, starts=starts or now, now=now)
    except DeferralProblem as error:
        raise Invalid(str(error)) from None
    return {"capped_recipients": capped, "defer_until": until}


def _same_minute(one: datetime | None, other: datetime | None) -> bool:
    if one is None or other is None:
        return one is other
    return one.replace(second=0, microsecond=0) == other.replace(second=0, microsecond=0)


async def revise_campaign(
    services: Services, principal: Principal, campaign_id: int, revision: Revision
) -> tuple[Row, ImportReport | None]:
    """Edit content, add recipients and schedule or unschedule in one transaction: either
    all of it is saved or, when any part is refused, none of it."""
    principal.require_change()
    unknown = set(revision.changes) - set(CONTENT_FIELDS)
    if unknown:
        raise Invalid(f"{_api_name(sorted(unknown)[0])}: cannot be edited")
    if revision.schedule is not None:
        check_schedule_time(revision.schedule, utcnow())
        check_timezone(revision.timezone)
    async with services.database.connection() as connection:
        saved = await _campaign_in_scope(connection, principal, campaign_id)
    deferral = _revised_deferral(saved, revision)
    if revision.changes:  # templates are tried before the write transaction, in a thread
        merged = {name: saved[name] for name in CONTENT_FIELDS} | revision.changes
        layout = await _campaign_layout(services, int(saved["organization_id"]), merged)
        await _check_content(services, merged, layout)
    report = None
    async with services.database.transaction() as connection:
        current = await _campaign_in_scope(connection, principal, campaign_id)
        organization_id = int(current["organization_id"])
        steps: list[tuple[Action, dict[str, Any], dict[str, Any] | None]] = []
        targets = revision.targets
        if revision.changes or targets or deferral:
            fields = sorted([*revision.changes, *deferral, *(targets.fields() if targets else [])])
            edit_detail = {"fields": fields} | (targets.detail() if targets else {})
            steps.append((Action.EDIT, revision.changes | deferral, edit_detail))
        if revision.recipient_list is not None:
            steps.append((Action.ADD_RECIPIENTS, {}, None))
        if revision.schedule is not None:
            when: dict[str, Any] = {
                "scheduled_for": revision.schedule,
                "timezone": revision.timezone,
                "local_time": None,
                "status_reason": None,
            }
            steps.append(
                (Action.SCHEDULE, when, _schedule_detail(revision.schedule, revision.timezone))
            )
        elif revision.unschedule:
            steps.append((Action.UNSCHEDULE, {}, None))
        for action, values, detail in steps:
            changed = await campaigns.transition(
                connection, campaign_id, action, organization_id=principal.scope, **values
            )
            if changed is None:
                raise await _refuse(connection, principal, campaign_id, action)
            if action is Action.EDIT and targets:
                await save_targets(connection, campaign_id, organization_id, targets)
            if action is Action.ADD_RECIPIENTS:
                assert revision.recipient_list is not None
                report = await _insert_recipients(connection, campaign_id, revision.recipient_list)
                detail = {
                    "added": report.added,
                    "duplicates": report.duplicates,
                    "invalid": len(report.invalid),
                }
            name = "recipients.add" if action is Action.ADD_RECIPIENTS else action.value
            await _audit(connection, principal, name, campaign_id, organization_id, detail=detail)
        view = await _view(connection, campaign_id, services=services)
    if revision.schedule is not None:
        await services.wakeups.notify("scheduler")
    return view, report


async def delete_campaign(services: Services, principal: Principal, campaign_id: int) -> None:
    principal.require_change()
    async with services.database.transaction() as connection:
        current = await _campaign_in_scope(connection, principal, campaign_id)
        if not await campaigns.delete_campaign(
            connection, campaign_id, organization_id=principal.scope
        ):
            raise await _refuse(connection, principal, campaign_id, Action.DELETE)
        await _audit(
            connection,
            principal,
            "delete",
            campaign_id,
            current["organization_id"],
            detail={"name": current["name"]},
        )


async def _insert_recipients(
    connection: AsyncConnection, campaign_id: int, recipient_list: RecipientList
) -> ImportReport:
    offered = len(recipient_list.recipients)
    result = await recipients.add_recipients_counted(
        connection, campaign_id, recipient_list.recipients.items()
    )
    return ImportReport(
        added=result.added,
        duplicates=recipient_list.duplicates + offered - result.added - result.erased,
        invalid=recipient_list.invalid,
        erased=result.erased,
    )


def recipient_limits(settings: Settings) -> RecipientLimits:
    """The limits on recipient lists (variables, CSV) from ``CAMPAIGND_MAX_*``."""
    return RecipientLimits(
        vars_depth=settings.max_vars_depth,
        vars_keys=settings.max_vars_keys,
        vars_bytes=settings.max_vars_bytes,
        csv_columns=settings.max_csv_columns,
        csv_field_chars=settings.max_csv_field_chars,
    )


async def check_recipients_welcome(
    services: Services, principal: Principal, campaign_id: int
) -> None:
    """Before a list is read at all: may this principal add recipients to this campaign now?

    403 for a viewer, 404 for a campaign out of scope, 409 unless draft or scheduled, so a
    large upload that would be refused costs nothing to parse. ``add_recipients`` checks
    again, atomically, when the list is stored.
    """
    principal.require_change()
    async with services.database.connection() as connection:
        campaign = await _campaign_in_scope(connection, principal, campaign_id)
    if not is_allowed(Action.ADD_RECIPIENTS, CampaignStatus(campaign["status"])):
        raise Conflict(refusal(Action.ADD_RECIPIENTS, campaign["status"]))


async def add_recipients(
    services: Services, principal: Principal, campaign_id: int, recipient_list: RecipientList
) -> ImportReport:
    """Add recipients to a draft or scheduled campaign (one bulk statement)."""
    principal.require_change()
    async with services.database.transaction() as connection:
        locked = await campaigns.transition(
            connection, campaign_id, Action.ADD_RECIPIENTS, organization_id=principal.scope
        )
        if locked is None:
            raise await _refuse(connection, principal, campaign_id, Action.ADD_RECIPIENTS)
        report = await _insert_recipients(connection, campaign_id, recipient_list)
        await _audit(
            connection,
            principal,
            "recipients.add",
            campaign_id,
            locked["organization_id"],
            detail={
                "added": report.added,
                "duplicates": report.duplicates,
                "invalid": len(report.invalid),
            }
            | ({"erased": report.erased} if report.erased else {}),
        )
        return report


async def _transition(
    services: Services,
    principal: Principal,
    campaign_id: int,
    action: Action,
    *,
    detail: dict[str, Any] | None = None,
    **values: Any,
) -> Row:
    principal.require_change()
    async with services.database.transaction() as connection:
        changed = await campaigns.transition(
            connection, campaign_id, action, organization_id=principal.scope, **values
        )
        if changed is None:
            raise await _refuse(connection, principal, campaign_id, action)
        await _audit(
            connection,
            principal,
            action.value,
            campaign_id,
            changed["organization_id"],
            detail=detail,
        )
        return await _view(connection, campaign_id, services=services)


def _schedule_detail(scheduled_for: datetime, timezone: str | None) -> dict[str, Any]:
    detail = {"scheduledFor": scheduled_for.isoformat()}
    return detail if timezone is None else detail | {"timezone": timezone}


async def schedule(
    services: Services,
    principal: Principal,
    campaign_id: int,
    scheduled_for: datetime,
    *,
    timezone: str | None = None,
) -> Row:
    """Schedule for ``scheduled_for``; ``timezone`` is the zone it was chosen in (kept to
    show the campaign in; None when only an offset was given)."""
    check_schedule_time(scheduled_for, utcnow())
    principal.require_change()
    check_timezone(timezone)
    saved = await _check_saved_content(services, principal, campaign_id)
    check_deadline(saved, scheduled_for)
    view = await _transition(
        services,
        principal,
        campaign_id,
        Action.SCHEDULE,
        detail=_schedule_detail(scheduled_for, timezone),
        scheduled_for=scheduled_for,
        timezone=timezone,
        local_time=None,
        status_reason=None,
    )
    await services.wakeups.notify("scheduler")
    return view


async def unschedule(services: Services, principal: Principal, campaign_id: int) -> Row:
    return await _transition(services, principal, campaign_id, Action.UNSCHEDULE)


async def pause(services: Services, principal: Principal, campaign_id: int) -> Row:
    """Pause; once this returns, no worker anywhere starts a transaction for the campaign
    (they hear the halt before it returns; deliveries they hold go back to the queue)."""
    view = await _transition(
        services, principal, campaign_id, Action.PAUSE, status_reason=f"paused by {principal.actor}"
    )
    await services.wakeups.halt(campaign_id)
    return view


async def resume(services: Services, principal: Principal, campaign_id: int) -> Row:
    view = await _transition(
        services, principal, campaign_id, Action.RESUME, status_reason=None, consecutive_errors=0
    )
    await services.wakeups.notify("scheduler")
    await services.wakeups.notify("workers")
    return view


async def cancel(services: Services, principal: Principal, campaign_id: int) -> Row:
    """Cancel; like ``pause``, workers hear the halt before this returns."""
    principal.require_change()
    async with services.database.transaction() as connection:
        current = await _campaign_in_scope(connection, principal, campaign_id)
        scope = scope_of(services.settings.cooldown_scope, int(current["organization_id"]))
        cancelled = await runs.cancel_campaign(
            connection, campaign_id, now=utcnow(), organization_id=principal.scope, scope=scope
        )
        if cancelled is None:
            raise await _refuse(connection, principal, campaign_id, Action.CANCEL)
        await _audit(connection, principal, "cancel", campaign_id, current["organization_id"])
        view = await _view(connection, campaign_id, services=services)
    await services.wakeups.halt(campaign_id)
    return view


async def execute(services: Services, principal: Principal, campaign_id: int) -> Row:
    """Start now (from draft, scheduled or missed); returns the new run."""
    principal.require_change()
    saved = await _check_saved_content(services, principal, campaign_id)
    check_deadline(saved, utcnow())
    async with services.database.transaction() as connection:
        run = await runs.start_campaign(
            connection,
            campaign_id,
            trigger=Trigger.MANUAL,
            actor=principal.actor,
            now=utcnow(),
            organization_id=principal.scope,
        )
        if run is None:
            raise await _refuse(connection, principal, campaign_id, Action.EXECUTE)
        await _audit(
            connection,
            principal,
            "execute",
            campaign_id,
            run["organization_id"],
            detail={"runId": run["id"]},
        )
    await services.wakeups.notify("scheduler")
    return run


async def preview_campaign(
    services: Services, principal: Principal, campaign_id: int, *, limit: int = 1000
) -> Preview:
    """Eligibility now, with reasons, and the template variables some recipients lack."""
    async with services.database.connection() as connection:
        campaign = await _campaign_in_scope(connection, principal, campaign_id)
        found = await eligibility(
            connection, campaign, rules=cooldown_rules(services), now=utcnow(), limit=limit
        )
        total, ineligible, reasons = found.total, found.ineligible, found.reasons
        deferral = Deferral.of(campaign)
        signing = await campaign_signing(
            connection,
            organization_id=int(campaign["organization_id"]),
            from_address=campaign["from_address"] or services.settings.from_address,
        )
        used = await template_thread(
            recipient_variables, campaign["subject"], campaign["html_body"], campaign["text_body"]
        )
        checked = used[:MAX_VARIABLES]
        audience = None
        if campaign["fanned_out_at"] is None:  # after, the deliveries hold the audience
            audience = await campaign_audience(
                connection, campaign_id, int(campaign["organization_id"]), now=utcnow()
            )
        counted = (
            await lacking_variables(connection, campaign_id, checked, audience=audience)
            if total
            else []
        )
        waves = await campaign_waves(connection, campaign, now=utcnow())
        fallbacks = await zone_fallbacks(connection, campaign, limit=limit, audience=audience)
    described = {variable.name: variable for variable in checked}
    return Preview(
        campaign_id=campaign_id,
        campaign_name=str(campaign["name"]),
        total_recipients=total,
        eligible=total - ineligible,
        ineligible=ineligible,
        reasons=reasons,
        missing_variables=[
            MissingVariable(
                name=item.name,
                recipients=item.recipients,
                empty_only=described[item.name].empty_only,
                seen_as=described[item.name].seen_as,
                sample=[email for _, email in item.sample],
                sample_ids=[delivery_id for delivery_id, _ in item.sample],
            )
            for item in counted
        ],
        unchecked_variables=[variable.name for variable in used[MAX_VARIABLES:]],
        dkim=signing,
        waves=waves,
        zone_fallbacks=fallbacks,
        deferred=found.deferred,
        defer_until=None if deferral is None else deferral.until,
    )


async def upcoming(services: Services, principal: Principal, *, hours: float) -> list[Row]:
    if not 0 < hours <= 24 * 366:
        raise Invalid("hours: must be between 0 and 8784")
    async with services.database.connection() as connection:
        rows = await campaigns.upcoming_campaigns(
            connection, until=utcnow() + timedelta(hours=hours), organization_id=principal.scope
        )
        targets = await campaign_targets.targets_of(connection, [int(row["id"]) for row in rows])
        for row in rows:
            row["lists"] = targets[int(row["id"])].lists
            row["segments"] = targets[int(row["id"])].segments
        return await with_first_and_last_wave(connection, rows, now=utcnow())


async def execution_log(services: Services, principal: Principal, *, limit: int = 100) -> list[Row]:
    if not 0 < limit <= 1000:
        raise Invalid("limit: must be between 1 and 1000")
    async with services.database.connection() as connection:
        rows = await runs.execution_log(connection, organization_id=principal.scope, limit=limit)
        return await with_wave_progress(connection, rows, now=utcnow())


async def list_recipients(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> tuple[list[Row], int | None]:
    async with services.database.connection() as connection:
        await _campaign_in_scope(connection, principal, campaign_id)
        rows = await recipients.list_deliveries(
            connection, campaign_id, status=status, after_id=cursor, limit=limit + 1
        )
    page = rows[:limit]
    return page, (int(page[-1]["id"]) if len(rows) > limit else None)
