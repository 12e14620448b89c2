"""The campaign form's live preview: the message as typed, for a chosen recipient, at
desktop and phone widths, with template problems next to their fields (htmx, debounced)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from campaignd.actions import layouts as layout_actions
from campaignd.actions.errors import ActionError
from campaignd.actions.live_preview import Draft, live_preview, recipient_choices
from campaignd.store.rows import Row
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import optional_text
from campaignd.web.rendering import render
from campaignd.web.session import services_of

PREVIEW_URL = "/admin/marketing/campaigns/live-preview"
NO_LAYOUT = ""
"""The layout picker's value for "no layout"."""
PROBLEM_FIELDS = ("subject", "html_body", "text_body", "layout")

router = APIRouter(route_class=AdminRoute)


def _number(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


def layout_of_form(value: str | None) -> str | None:
    """The picker's value as a layout name (None: no layout)."""
    return None if value is None or value == NO_LAYOUT else value


async def content_fields_context(
    request: Request, viewer: Viewer, campaign: Row | None, values: dict[str, Any]
) -> dict[str, Any]:
    """What the form's content block needs: the organization's layouts, its default (what a
    new campaign starts with) and the recipients to preview as."""
    services = services_of(request)
    organization = None if campaign is None else str(campaign["organization"])
    if campaign is None and viewer.is_platform_admin:
        organization = optional_text(str(values.get("organization") or ""))
    names: list[str] = []
    default = None
    try:
        if organization is not None or not viewer.is_platform_admin:
            _, layouts = await layout_actions.list_layouts(
                services, viewer.principal, organization=organization
            )
            names = [layout.name for layout in layouts]
            default = next((layout.name for layout in layouts if layout.is_default), None)
    except ActionError:
        pass
    choices = (
        await recipient_choices(services, viewer.principal, int(campaign["id"]))
        if campaign is not None
        else []
    )
    chosen_layout = values.get("layout", default if campaign is None else None)
    return {
        "layout_names": names,
        "chosen_layout": chosen_layout or NO_LAYOUT,
        "preview_recipients": choices,
        "preview_url": PREVIEW_URL,
    }


@router.post(PREVIEW_URL)
async def preview_fragment(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    draft = Draft(
        subject=text_of(form, "subject"),
        html_body=text_of(form, "html_body").strip() or None,
        text_body=text_of(form, "text_body").strip() or None,
        body_format=text_of(form, "body_format") or "html",
        layout=layout_of_form(text_of(form, "layout")),
    )
    try:
        preview = await live_preview(
            services_of(request),
            viewer.principal,
            draft,
            campaign_id=_number(text_of(form, "preview_campaign")),
            organization=optional_text(text_of(form, "organization")),
            recipient_id=_number(text_of(form, "preview_recipient")),
        )
    except ActionError as problem:
        context: dict[str, Any] = {"preview": None, "error": problem.detail}
    else:
        context = {"preview": preview, "error": None}
    context["problem_fields"] = PROBLEM_FIELDS
    return await render(request, "fragments/live_preview.html", context, viewer=viewer)
