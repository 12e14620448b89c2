"""A campaign's content as it is sent: the body in its format (HTML or Markdown) placed in
its layout, the CSS inlined, and a plain-text part, made once per campaign.

Everything here works on templates, not on one recipient's message: the result is the
per-campaign template that ``domain.templates`` compiles once and renders per recipient.
Jinja tags (``{{ ... }}``, ``{% ... %}``, ``{# ... #}``) are set aside before each step
(Markdown, the CSS inliner, the text converter) and put back after it, so a step never
changes them, and a recipient's values are inserted only after every step, escaped by the
HTML environment: a value is never read as Markdown or HTML.

``campaign_html`` is the one function that produces the final per-campaign HTML template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from html import escape

from campaignd.domain.markdown import markdown_to_html
from campaignd.domain.plain_text import text_from_html
from campaignd.domain.tags import TagGuard, inline_css

BODY_FORMATS = ("html", "markdown", "text")
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
CONTENT_SLOT = re.compile(r"\{\{-?\s*content\s*-?\}\}")
"""Where a layout takes the campaign's body."""


class LayoutChoice(Enum):
    """A campaign created without a ``layout`` takes its organization's default layout."""

    ORGANIZATION_DEFAULT = "default"


class ContentProblem(ValueError):
    """Content that cannot be composed; ``field`` names the API field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class Layout:
    """What of a layout goes into a message: its HTML (with ``{{ content }}``) and its text
    (with ``{{ content }}``, or None: the text part is made from the HTML)."""

    html: str
    text: str | None = None


@dataclass(frozen=True)
class Composed:
    """A campaign's per-campaign templates: HTML and text (either may be None)."""

    html: str | None
    text: str | None
    text_generated: bool = False


def checked_body_format(value: str) -> str:
    if value not in BODY_FORMATS:
        raise ContentProblem("bodyFormat", f"must be one of {', '.join(BODY_FORMATS)}")
    return value


def check_layout_html(html: str, field: str = "html") -> None:
    if not html or not CONTENT_SLOT.search(html):
        raise ContentProblem(field, "an HTML layout must contain {{ content }}")


def check_layout_text(text: str | None, field: str = "text") -> None:
    if text and not CONTENT_SLOT.search(text):
        raise ContentProblem(field, "a text layout must contain {{ content }} (or be left empty)")


def wrap(layout: str, content: str) -> str:
    """``content`` in place of every ``{{ content }}`` of ``layout``."""
    return CONTENT_SLOT.sub(lambda _match: content, layout)


def body_html(body: str, body_format: str) -> str:
    """The body as an HTML template: Markdown rendered, text in paragraphs (their tags
    kept as they are)."""
    if body_format == "markdown":
        return markdown_to_html(body)
    if body_format == "text":
        return text_to_html(body)
    return body


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, a paragraph per blank-line-separated block, a line
    break per line, web addresses as links."""
    guard = TagGuard()
    paragraphs = re.split(r"\n[ \t]*\n", guard.words(text).strip())
    blocks = []
    for paragraph in paragraphs:
        lines = [
            WEB_ADDRESS.sub(_link, escape(line, quote=False)) for line in paragraph.split("\n")
        ]
        blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
    return guard.restore("\n".join(blocks))


def _link(match: re.Match[str]) -> str:
    address = match[0]
    return f'<a href="{address}">{address}</a>'


def campaign_html(body: str | None, body_format: str, layout: Layout | None) -> str | None:
    """The final per-campaign HTML template: the body in its format, placed in the layout,
    with the CSS of its ``<style>`` blocks inlined. None when the campaign has no HTML body.

    This is the one place the HTML of a campaign is made: what rewrites the HTML of every
    message of a campaign (link tracking, say) takes this function's result.
    """
    if not body:
        return None
    html = body_html(body, body_format)
    if layout is not None:
        html = wrap(layout.html, html)
    return inline_css(html)


def campaign_text(
    body: str | None,
    html_body: str | None,
    body_format: str,
    layout: Layout | None,
    *,
    html: str | None = None,
) -> tuple[str | None, bool]:
    """The per-campaign text template and whether it was generated.

    An explicit text body wins (in the layout's text, if it has one). Without one, the
    text is made from the HTML: the body's HTML in the layout's text when the layout has a
    text, else the whole HTML, layout included (``html``: that, when already made).
    """
    if body:
        if layout is not None and layout.text:
            return wrap(layout.text, body), False
        return body, False
    if not html_body:
        return None, False
    if layout is not None and layout.text:
        return wrap(layout.text, text_from_html(body_html(html_body, body_format))), True
    if html is None:
        html = campaign_html(html_body, body_format, layout)
    assert html is not None
    return text_from_html(html), True


@lru_cache(maxsize=16)
def compose(
    *, html_body: str | None, text_body: str | None, body_format: str, layout: Layout | None
) -> Composed:
    """Both templates of a campaign; raises ContentProblem for an unknown format.

    ``text``: the text body is the whole message; the HTML part is made from it. Kept for
    the last few campaigns: a worker builds each campaign's builders (two) from the same
    content.
    """
    checked_body_format(body_format)
    if body_format == "text":
        if html_body:
            raise ContentProblem(
                "htmlBody", "a text campaign is written in textBody alone; leave htmlBody empty"
            )
        html_body = text_body
    html = campaign_html(html_body, body_format, layout)
    text, generated = campaign_text(text_body, html_body, body_format, layout, html=html)
    return Composed(html=html, text=text, text_generated=generated)


__all__ = [
    "BODY_FORMATS",
    "Composed",
    "ContentProblem",
    "Layout",
    "LayoutChoice",
    "TagGuard",
    "campaign_html",
    "campaign_text",
    "check_layout_html",
    "check_layout_text",
    "checked_body_format",
    "compose",
    "wrap",
]
