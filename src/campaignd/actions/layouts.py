"""Layouts of an organization: add, list, show, edit, preview, remove; and the layout a
campaign names, checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.delivery.messages import render_limits, template_thread
from campaignd.domain.content import (
    ContentProblem,
    check_layout_html,
    check_layout_text,
    compose,
    wrap,
)
from campaignd.domain.content import Layout as LayoutParts
from campaignd.domain.templates import (
    SAMPLE_CONTEXT,
    RenderLimits,
    TemplateProblem,
    compile_campaign,
)
from campaignd.store import audit
from campaignd.store import layouts as store
from campaignd.store.columns import utcnow
from campaignd.store.layouts import Layout

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_LAYOUT_CHARACTERS = 512 * 1024
SAMPLE_BODY = (
    "<h1>A heading</h1>\n<p>The campaign's body goes here: a paragraph with "
    '<a href="https://example.com/">a link</a>.</p>\n<ul><li>A list</li><li>of things</li></ul>'
)


@dataclass(frozen=True)
class LayoutView:
    organization: str
    layout: Layout


@dataclass(frozen=True)
class LayoutPreview:
    """A layout around a sample body, for a sample recipient: HTML and text."""

    html: str
    text: str


def checked_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise Invalid(
            "name: 1 to 100 letters, digits, dots, dashes or underscores, starting with a "
            "letter or digit"
        )
    return name


def _try_layout(html: str, text: str | None, limits: RenderLimits) -> None:
    """The layout compiles and renders around an empty body (in a template thread)."""
    for field, source in (("html", html), ("text", text)):
        if not source:
            continue
        try:
            if field == "html":
                compile_campaign("layout", wrap(source, ""), None, limits=limits)
            else:
                compile_campaign("layout", None, wrap(source, ""), limits=limits)
        except TemplateProblem as problem:
            raise Invalid(f"{field}: {problem.reason}") from None


async def _checked_content(services: Services, html: str, text: str | None) -> None:
    for field, value in (("html", html), ("text", text)):
        if value is not None and len(value) > MAX_LAYOUT_CHARACTERS:
            raise Invalid(f"{field}: at most {MAX_LAYOUT_CHARACTERS:,} characters are allowed")
    try:
        check_layout_html(html)
        check_layout_text(text)
    except ContentProblem as problem:
        raise Invalid(str(problem)) from None
    await template_thread(_try_layout, html, text, render_limits(services.settings))


async def add_layout(
    services: Services,
    principal: Principal,
    *,
    name: str,
    html: str,
    text: str | None = None,
    is_default: bool = False,
    organization: str | None = None,
) -> LayoutView:
    """A new layout; ``is_default`` makes it the organization's default (the previous
    default stays, no longer the default)."""
    principal.require_change()
    checked_name(name)
    text = text or None
    await _checked_content(services, html, text)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        layout = await store.add_layout(
            connection,
            organization_id=organization_id,
            name=name,
            html=html,
            text=text,
            is_default=is_default,
            now=utcnow(),
        )
        if layout is None:
            raise Conflict(f"name: {slug} already has a layout named '{name}'")
        await audit.record(
            connection,
            actor=principal.actor,
            action="layout.add",
            organization_id=organization_id,
            target=name,
            detail={"default": is_default},
        )
    return LayoutView(slug, layout)


async def list_layouts(
    services: Services, principal: Principal, *, organization: str | None = None
) -> tuple[str, list[Layout]]:
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        return slug, await store.list_layouts(connection, organization_id=organization_id)


async def get_layout(
    services: Services, principal: Principal, name: str, *, organization: str | None = None
) -> LayoutView:
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        layout = await store.get_layout(connection, organization_id=organization_id, name=name)
    if layout is None:
        raise NotFound(f"no layout '{name}' in {slug}")
    return LayoutView(slug, layout)


async def edit_layout(
    services: Services,
    principal: Principal,
    name: str,
    *,
    html: str | None = None,
    text: str | None = None,
    clear_text: bool = False,
    is_default: bool | None = None,
    organization: str | None = None,
) -> LayoutView:
    """Change the HTML, the text (``clear_text``: remove it) or whether it is the default
    (``False`` leaves the organization without one). Campaigns already sending keep the
    layout they started with."""
    principal.require_change()
    current = await get_layout(services, principal, name, organization=organization)
    changes: dict[str, Any] = {}
    if html is not None:
        changes["html"] = html
    if clear_text:
        changes["text"] = None
    elif text is not None:
        changes["text"] = text or None
    if is_default is not None:
        changes["is_default"] = is_default
    if "html" in changes or "text" in changes:
        await _checked_content(
            services,
            changes.get("html", current.layout.html),
            changes.get("text", current.layout.text),
        )
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        layout = await store.edit_layout(
            connection, organization_id=organization_id, name=name, changes=changes, now=utcnow()
        )
        if layout is None:
            raise NotFound(f"no layout '{name}' in {slug}")
        await audit.record(
            connection,
            actor=principal.actor,
            action="layout.edit",
            organization_id=organization_id,
            target=name,
            detail={"fields": sorted(changes)},
        )
    return LayoutView(slug, layout)


async def remove_layout(
    services: Services, principal: Principal, name: str, *, organization: str | None = None
) -> LayoutView:
    """Delete a layout; refused while a scheduled or sending campaign uses it."""
    principal.require_change()
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        layout = await store.remove_layout(connection, organization_id=organization_id, name=name)
        if layout is None:
            users = await store.campaigns_using(
                connection, organization_id=organization_id, name=name
            )
            if users:
                named = ", ".join(f"'{title}' ({status}, id {id_})" for id_, title, status in users)
                raise Conflict(
                    f"layout '{name}' is used by a scheduled or sending campaign: {named}; "
                    "unschedule or finish it first"
                )
            raise NotFound(f"no layout '{name}' in {slug}")
        await audit.record(
            connection,
            actor=principal.actor,
            action="layout.remove",
            organization_id=organization_id,
            target=name,
        )
    return LayoutView(slug, layout)


def _render_sample(layout: LayoutParts, limits: RenderLimits) -> LayoutPreview:
    composed = compose(html_body=SAMPLE_BODY, text_body=None, body_format="html", layout=layout)
    compiled = compile_campaign("layout", composed.html, composed.text, limits=limits)
    _, html, text = compiled.render(dict(SAMPLE_CONTEXT))
    return LayoutPreview(html=html or "", text=text or "")


async def preview_layout(
    services: Services, principal: Principal, name: str, *, organization: str | None = None
) -> LayoutPreview:
    """The layout around a sample body, as a sample recipient gets it."""
    view = await get_layout(services, principal, name, organization=organization)
    try:
        return await template_thread(
            _render_sample, view.layout.parts, render_limits(services.settings)
        )
    except (TemplateProblem, ContentProblem) as problem:
        raise Invalid(str(problem)) from None


async def layout_for_campaign(
    connection: AsyncConnection, organization_id: int, name: str | None
) -> LayoutParts | None:
    """The layout a campaign names, as it is now; Invalid when there is none of that name."""
    if name is None:
        return None
    layout = await store.get_layout(connection, organization_id=organization_id, name=name)
    if layout is None:
        raise Invalid(f"layout: no layout named '{name}' in this organization")
    return layout.parts


async def default_layout_name(connection: AsyncConnection, organization_id: int) -> str | None:
    """The organization's default layout (None: it has none)."""
    layout = await store.default_layout(connection, organization_id=organization_id)
    return layout.name if layout is not None else None
