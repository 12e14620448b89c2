"""The campaign form's lists and segments: the names to choose from (the campaign's
organization only) and the names chosen."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from starlette.datastructures import FormData

from campaignd.actions import frequency
from campaignd.actions import lists as list_actions
from campaignd.actions import segments as segment_actions
from campaignd.actions.campaign_targets import TargetNames
from campaignd.actions.errors import ActionError
from campaignd.web.auth import Viewer
from campaignd.web.session import services_of

SHOWN_FIELD = "targets_shown"
"""Sent by a form that shows the pickers: without it, a save leaves the targets alone."""

MAX_SEGMENTS_SHOWN = 500


async def target_choices(
    request: Request, viewer: Viewer, organization: str | None
) -> TargetNames | None:
    """The organization's list and segment names (name order), or None when the form does
    not know the organization yet (a platform admin's new campaign)."""
    if viewer.is_platform_admin and not organization:
        return None
    named = organization if viewer.is_platform_admin else None
    services = services_of(request)
    try:
        _, lists = await list_actions.list_lists(services, viewer.principal, organization=named)
        _, segments, _ = await segment_actions.list_segments(
            services, viewer.principal, organization=named, limit=MAX_SEGMENTS_SHOWN
        )
    except ActionError:
        return None
    return TargetNames(
        lists=[item.name for item in lists], segments=[item.name for item in segments]
    )


async def category_choices(
    request: Request, viewer: Viewer, organization: str | None
) -> list[str] | None:
    """The organization's campaign categories (each with its own frequency rules), or None
    when the form does not know the organization yet."""
    if viewer.is_platform_admin and not organization:
        return None
    named = organization if viewer.is_platform_admin else None
    try:
        view = await frequency.show_rules(
            services_of(request), viewer.principal, organization=named
        )
    except ActionError:
        return None
    return list(view.sets.categories)


def chosen_category(form: FormData) -> tuple[bool, str | None]:
    """(whether the form showed the category picker, the category chosen: None for none)."""
    if form.get(SHOWN_FIELD) is None or form.get("category_shown") is None:
        return False, None
    value = form.get("category")
    return True, value if isinstance(value, str) and value else None


def chosen_targets(form: FormData) -> TargetNames | None:
    """The lists and segments ticked; None when the form had no pickers."""
    if form.get(SHOWN_FIELD) is None:
        return None

    def names(field: str) -> list[str]:
        return [value for value in form.getlist(field) if isinstance(value, str) and value]

    return TargetNames(lists=names("lists"), segments=names("segments"))


def changed_targets(
    chosen: TargetNames | None, lists: Sequence[str], segments: Sequence[str]
) -> TargetNames | None:
    """Only the parts that differ from what the campaign targets now (None: nothing)."""
    if chosen is None:
        return None
    new_lists = None if set(chosen.lists or []) == set(lists) else chosen.lists
    new_segments = None if set(chosen.segments or []) == set(segments) else chosen.segments
    if new_lists is None and new_segments is None:
        return None
    return TargetNames(lists=new_lists, segments=new_segments)
