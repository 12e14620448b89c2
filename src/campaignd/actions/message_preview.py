"""One recipient's copy of a campaign's message: subject and bodies as delivery renders them.

The templates are the campaign's, compiled by the same builder the delivery worker uses,
rendered with the recipient's variables and ``email``, within the same limits, in a
template thread; a body that does not place the unsubscribe link gets the same footer a
sent message gets.

The unsubscribe link of a preview is inert: ``{PUBLIC_URL}/u/preview`` shows what the page
looks like and unsubscribes nobody. A preview never carries a recipient's real link, so
whoever may look at a campaign (a viewer too) cannot unsubscribe its recipients with it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.delivery.messages import (
    CampaignContent,
    MessageBuilder,
    render_limits,
    template_thread,
)
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.content import ContentProblem, campaign_html
from campaignd.domain.templates import RenderLimits, TemplateProblem
from campaignd.store import campaigns, layouts, recipients
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row
from campaignd.store.sample_recipients import sample_recipient
from campaignd.store.secrets import instance_secret

PREVIEW_UNSUBSCRIBE_PATH = "/u/preview"
"""Where a preview's unsubscribe link points: a page that says so and changes nothing."""


def preview_unsubscribe_url(public_url: str) -> str:
    return public_url.rstrip("/") + PREVIEW_UNSUBSCRIBE_PATH


@dataclass(frozen=True)
class MessagePreview:
    recipient_id: int | None
    """The delivery rendered for; None: the campaign has no recipients (templates as written,
    or, before it starts, rendered for a contact of its lists and segments: ``recipient``)."""
    recipient: str | None
    subject: str
    html: str | None
    text: str | None
    from_address: str
    reply_to: str | None
    problem: str | None = None
    """Why the message cannot be rendered for this recipient (delivery would fail it too)."""


async def _recipient(
    connection: AsyncConnection, campaign_id: int, recipient_id: int | None
) -> Row | None:
    """The chosen delivery of the campaign, or its first one (None: it has no recipients)."""
    after = None if recipient_id is None else recipient_id - 1
    rows = await recipients.list_deliveries(connection, campaign_id, after_id=after, limit=1)
    if recipient_id is not None and (not rows or int(rows[0]["id"]) != recipient_id):
        raise Invalid(f"recipient: {recipient_id} is not one of this campaign's recipients")
    return rows[0] if rows else None


def _as_written(content: CampaignContent, problem: str | None = None) -> MessagePreview:
    """The templates as written: in their layout and format (Markdown as HTML), the
    variables not filled in."""
    html = content.html_body
    if content.layout is not None or content.body_format != "html":
        with contextlib.suppress(ContentProblem):
            html = campaign_html(
                content.text_body if content.body_format == "text" else content.html_body,
                content.body_format,
                content.layout,
            )
    return MessagePreview(
        recipient_id=None,
        recipient=None,
        subject=content.subject,
        html=html,
        text=content.text_body,
        from_address=content.from_address,
        reply_to=content.reply_to,
        problem=problem,
    )


def _rendered(builder: MessageBuilder, delivery: Row, url: str) -> MessagePreview:
    email = str(delivery["email"])
    delivery_id = None if delivery["id"] is None else int(delivery["id"])
    base = replace(_as_written(builder.content), recipient_id=delivery_id, recipient=email)
    try:
        subject, html, text = builder.render(email, delivery["variables"], url)
    except Exception as error:  # a template may fail on one recipient's values only
        problem = (
            f"The message cannot be rendered for {email} ({type(error).__name__}: {error}); "
            "sending to this recipient would fail too."
        )
        return replace(base, problem=problem)
    return replace(base, subject=subject, html=html, text=text)


async def preview_message(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    recipient_id: int | None = None,
) -> MessagePreview:
    """The message as ``recipient_id`` (default: the campaign's first recipient or, with none
    before it starts, the first contact of its lists and segments) would get it.

    Raises NotFound for a campaign outside the principal's scope and Invalid for a
    recipient that is not the campaign's.
    """
    async with services.database.connection() as connection:
        campaign = await campaigns.get_campaign(
            connection, campaign_id, organization_id=principal.scope
        )
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found")
        delivery = await _recipient(connection, campaign_id, recipient_id)
        if delivery is None and recipient_id is None:  # a contact of its lists and segments
            contact = await sample_recipient(connection, campaign, None, now=utcnow())
            if contact is not None:
                delivery = {"id": None, "email": contact.email, "variables": contact.variables}
        layout = await layouts.campaign_layout(connection, campaign)
    content = replace(
        CampaignContent.from_row(campaign, default_from=services.settings.from_address),
        layout=layout,
    )
    if delivery is None:
        return _as_written(content)
    secret = await instance_secret(services.database, SECRET_NAME)
    return await template_thread(
        _build_and_render,
        content,
        delivery,
        public_url=services.settings.public_url,
        secret=secret,
        limits=render_limits(services.settings),
    )


def _build_and_render(
    content: CampaignContent, delivery: Row, *, public_url: str, secret: str, limits: RenderLimits
) -> MessagePreview:
    """Compile, try and render: user templates, so run in a template thread."""
    try:
        builder = MessageBuilder(
            content,
            public_url=public_url,
            unsubscribe_secret=secret,
            installation="preview",  # a preview shows no Message-ID
            limits=limits,
        )
    except (TemplateProblem, ValueError) as error:
        return _as_written(content, f"The message cannot be built: {error}.")
    return _rendered(builder, delivery, preview_unsubscribe_url(public_url))
