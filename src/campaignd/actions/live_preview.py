"""The message as it is being written: content not saved yet (the campaign form's fields),
in its format and layout, rendered for one recipient of the campaign or a sample one.

Each field's template is compiled on its own first, so that a problem is told next to its
field with its line; then the whole message is built by the builder delivery uses, within
the same limits, in a template thread. The unsubscribe link is the inert preview link
(``message_preview``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError

from campaignd.actions.errors import ActionError, NotFound
from campaignd.actions.layouts import layout_for_campaign
from campaignd.actions.message_preview import preview_unsubscribe_url
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.delivery.messages import (
    CampaignContent,
    MessageBuilder,
    render_limits,
    template_thread,
)
from campaignd.domain.content import ContentProblem, Layout
from campaignd.domain.sandbox import html_environment, text_environment
from campaignd.domain.templates import (
    SAMPLE_CONTEXT,
    RenderLimits,
    TemplateProblem,
    compile_campaign,
)
from campaignd.store import campaigns, recipients
from campaignd.store.rows import Row

SAMPLE_RECIPIENT = str(SAMPLE_CONTEXT["email"])
RECIPIENT_CHOICES = 20


@dataclass(frozen=True)
class Draft:
    """The content as typed."""

    subject: str
    html_body: str | None
    text_body: str | None
    body_format: str = "html"
    layout: str | None = None


@dataclass(frozen=True)
class LivePreview:
    recipient: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    problems: dict[str, str] = field(default_factory=dict)
    """Per form field (``subject``, ``html_body``, ``text_body``, ``layout``, ``message``):
    what is wrong, with the line where one is known."""


def _line_problem(source: str, *, html: bool) -> str | None:
    """A syntax error of one template with its line, or None."""
    environment = html_environment if html else text_environment
    try:
        environment.parse(source)
    except TemplateSyntaxError as error:
        return f"line {error.lineno}: {error.message}"
    return None


def _field_problems(draft: Draft, limits: RenderLimits) -> dict[str, str]:
    problems: dict[str, str] = {}
    fields = (
        ("subject", draft.subject, False),
        ("html_body", draft.html_body, True),
        ("text_body", draft.text_body, False),
    )
    for name, source, html in fields:
        if not source:
            continue
        located = _line_problem(source, html=html)
        if located is not None:
            problems[name] = located
            continue
        try:
            if name == "subject":
                compile_campaign(source, None, None, limits=limits)
            elif html:
                compile_campaign("", source, None, limits=limits)
            else:
                compile_campaign("", None, source, limits=limits)
        except TemplateProblem as problem:
            problems[name] = problem.reason
    return problems


def _render(
    draft: Draft,
    layout: Layout | None,
    delivery: tuple[str, dict[str, Any] | None],
    *,
    public_url: str,
    limits: RenderLimits,
) -> LivePreview:
    """Compile, try and render: user templates, so in a template thread."""
    email, variables = delivery
    problems = _field_problems(draft, limits)
    if problems:
        return LivePreview(recipient=email, problems=problems)
    if not (draft.html_body or draft.text_body):
        return LivePreview(
            recipient=email, problems={"html_body": "write an HTML body or a plain-text body"}
        )
    content = CampaignContent(
        campaign_id=0,
        organization_id=0,
        subject=draft.subject or " ",
        html_body=draft.html_body,
        text_body=draft.text_body,
        from_address="preview@example.com",
        body_format=draft.body_format,
        layout=layout,
    )
    try:
        builder = MessageBuilder(
            content,
            public_url=public_url,
            unsubscribe_secret="preview",
            installation="preview",
            limits=limits,
        )
        subject, html, text = builder.render(email, variables, preview_unsubscribe_url(public_url))
    except (TemplateProblem, ContentProblem) as problem:
        where = "layout" if layout is not None and problem.field == "htmlBody" else "message"
        return LivePreview(recipient=email, problems={where: str(problem)})
    except Exception as error:  # a template may fail on one recipient's values only
        problem_text = f"cannot be rendered for {email}: {type(error).__name__}: {error}"
        return LivePreview(recipient=email, problems={"message": problem_text})
    return LivePreview(recipient=email, subject=subject, html=html, text=text)


async def _recipient(
    services: Services, campaign: Row | None, recipient_id: int | None
) -> tuple[str, dict[str, Any] | None]:
    if campaign is None or recipient_id is None:
        return SAMPLE_RECIPIENT, None
    async with services.database.connection() as connection:
        rows = await recipients.list_deliveries(
            connection, int(campaign["id"]), after_id=recipient_id - 1, limit=1
        )
    if not rows or int(rows[0]["id"]) != recipient_id:
        return SAMPLE_RECIPIENT, None
    return str(rows[0]["email"]), rows[0]["variables"]


async def recipient_choices(
    services: Services, principal: Principal, campaign_id: int
) -> list[tuple[int, str]]:
    """The first recipients of a campaign, to preview the message as (id, address)."""
    async with services.database.connection() as connection:
        campaign = await campaigns.get_campaign(
            connection, campaign_id, organization_id=principal.scope
        )
        if campaign is None:
            return []
        rows = await recipients.list_deliveries(connection, campaign_id, limit=RECIPIENT_CHOICES)
    return [(int(row["id"]), str(row["email"])) for row in rows]


async def live_preview(
    services: Services,
    principal: Principal,
    draft: Draft,
    *,
    campaign_id: int | None = None,
    organization: str | None = None,
    recipient_id: int | None = None,
) -> LivePreview:
    """``draft`` as ``recipient_id`` of ``campaign_id`` (or a sample recipient) would get
    it. NotFound for a campaign outside the principal's scope."""
    campaign: Row | None = None
    layout: Layout | None = None
    async with services.database.connection() as connection:
        if campaign_id is not None:
            campaign = await campaigns.get_campaign(
                connection, campaign_id, organization_id=principal.scope
            )
            if campaign is None:
                raise NotFound(f"campaign {campaign_id} not found")
            organization_id: int | None = int(campaign["organization_id"])
        else:
            try:
                organization_id, _ = await organization_of(connection, principal, organization)
            except ActionError:
                organization_id = None  # a platform admin who has not chosen one yet
        if draft.layout is not None and organization_id is not None:
            try:
                layout = await layout_for_campaign(connection, organization_id, draft.layout)
            except ActionError as problem:
                return LivePreview(recipient=SAMPLE_RECIPIENT, problems={"layout": problem.detail})
    delivery = await _recipient(services, campaign, recipient_id)
    return await template_thread(
        _render,
        draft,
        layout,
        delivery,
        public_url=services.settings.public_url,
        limits=render_limits(services.settings),
    )
