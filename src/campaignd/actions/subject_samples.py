"""A short sample of each listed campaign's subject, as its first recipient gets it.

The campaign list shows what people will read, not the template (``Hello Ann`` rather
than ``Hello {{ first_name }}``). Each subject is compiled on its own (not the bodies) by
the same sandboxed templates delivery uses, and rendered with the first recipient's
variables and the preview's inert unsubscribe link; the rows of a page are rendered
together, off the event loop. A campaign sent only to lists and segments uses the first
contact of its audience until it starts, as its test sends do (when that contact is among
the organization's first ``SAMPLE_CONTACTS`` by address). A campaign with nobody to send to
yet (or none found there), or whose first recipient's values make the subject fail, shows
the template with its placeholders marked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from campaignd.actions.message_preview import preview_unsubscribe_url
from campaignd.actions.services import Services
from campaignd.domain.templates import CompiledCampaign, compile_campaign, recipient_context
from campaignd.store.columns import utcnow
from campaignd.store.recipients import first_recipients
from campaignd.store.rows import Row
from campaignd.store.sample_recipients import sample_recipient

SAMPLE_LENGTH = 140
"""Characters of a rendered subject shown in the list."""

SAMPLE_CONTACTS = 10_000
"""A campaign sent only to lists and segments is sampled for its first contact among the
organization's first this many contacts by address (``store.sample_recipients``): a few
milliseconds per campaign, whatever the size of its audience and of the organization."""

_PLACEHOLDER = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_NAME = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\s*(?:\|.*)?$", re.DOTALL)


@dataclass(frozen=True)
class SubjectSample:
    text: str | None
    """The subject as ``recipient`` gets it; None: see ``parts``."""
    recipient: str | None
    parts: tuple[tuple[str, bool], ...] = ()
    """The template as written, in pieces: (text, True) for a placeholder's name."""


def placeholder_parts(subject: str) -> tuple[tuple[str, bool], ...]:
    """``Hi {{ first_name | title }}!`` -> ("Hi ", False), ("first_name", True), ("!", False).

    A placeholder that is a name (with or without filters) shows the name, any other the
    expression; tags and comments (``{% if %}``, ``{# #}``) are left out.
    """
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(subject):
        if match.start() > position:
            parts.append((subject[position : match.start()], False))
        expression = match.group(1)
        if expression is not None:
            name = _NAME.match(expression)
            parts.append((name.group("name") if name else expression or "…", True))
        position = match.end()
    if position < len(subject):
        parts.append((subject[position:], False))
    return tuple(parts)


@lru_cache(maxsize=512)
def _compiled(subject: str) -> CompiledCampaign:
    return compile_campaign(subject, None, None)


def _shorten(text: str) -> str:
    return text if len(text) <= SAMPLE_LENGTH else text[: SAMPLE_LENGTH - 1].rstrip() + "…"


def _sample(
    subject: str, first: tuple[str, Mapping[str, Any] | None] | None, url: str
) -> SubjectSample:
    if first is not None:
        email, variables = first
        try:
            rendered, _, _ = _compiled(subject).render(recipient_context(email, variables, url))
        except Exception:  # a template may fail on one recipient's values; show it as written
            pass
        else:
            return SubjectSample(text=_shorten(rendered), recipient=email)
    return SubjectSample(text=None, recipient=None, parts=placeholder_parts(subject))


def _audience_only(row: Row) -> bool:
    """A campaign with no recipients of its own, whose lists and segments are not resolved
    yet (``row`` as ``actions.list_campaigns`` gives it)."""
    return row["fanned_out_at"] is None and bool(row.get("lists") or row.get("segments"))


async def subject_samples(services: Services, rows: list[Row]) -> dict[int, SubjectSample]:
    """Samples for campaign rows already read within the viewer's scope."""
    ids = [int(row["id"]) for row in rows]
    now = utcnow()
    async with services.database.connection() as connection:
        firsts = await first_recipients(connection, ids)
        for row in rows:
            if int(row["id"]) not in firsts and _audience_only(row):
                contact = await sample_recipient(
                    connection, row, None, now=now, within=SAMPLE_CONTACTS
                )
                if contact is not None:
                    firsts[int(row["id"])] = (contact.email, contact.variables)
    url = preview_unsubscribe_url(services.settings.public_url)
    subjects = [(int(row["id"]), str(row["subject"])) for row in rows]

    def render_all() -> dict[int, SubjectSample]:
        return {key: _sample(subject, firsts.get(key), url) for key, subject in subjects}

    return await asyncio.to_thread(render_all)
