"""Markdown bodies: CommonMark with tables, strikethrough and bare links made links
(markdown-it-py), rendered once per campaign with the template's tags set aside.

Raw HTML in Markdown passes through only when it is safe in a mail: elements from
``SAFE_ELEMENTS`` without event handlers and without ``javascript:`` or other non-web
links. Anything else is shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from campaignd.domain.tags import JINJA_TAG, TagGuard

SAFE_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "center",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
LINK_ATTRIBUTES = frozenset({"href", "src", "background", "action", "formaction"})
SAFE_SCHEMES = re.compile(r"^(https?:|mailto:|tel:|#|/|cdtag)", re.IGNORECASE)
STATEMENT_LINE = re.compile(r"^[ \t]*(\{%.*?%\}|\{#.*?#\})[ \t]*$", re.MULTILINE)


class _SafetyCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.safe = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_ELEMENTS:
            self.safe = False
        for name, value in attrs:
            if name.startswith("on"):
                self.safe = False
            if name in LINK_ATTRIBUTES and value and not SAFE_SCHEMES.match(value.strip()):
                self.safe = False

    def handle_endtag(self, tag: str) -> None:
        if tag not in SAFE_ELEMENTS:
            self.safe = False


def is_safe_html(html: str) -> bool:
    """Whether a piece of raw HTML may pass through: a comment (a hidden tag among them), or
    only ``SAFE_ELEMENTS`` without handlers or unsafe links (a hidden tag is a safe link:
    the template's own)."""
    stripped = html.strip()
    if stripped.startswith("<!--") and stripped.endswith("-->") and "[if" not in stripped:
        return stripped.count("<!--") == 1  # a comment, a hidden tag among them
    check = _SafetyCheck()
    check.feed(html)
    check.close()
    return check.safe


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
    parser.enable(["table", "strikethrough", "linkify"])

    def raw(
        renderer: Any, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
    ) -> str:
        content = tokens[index].content
        return content if is_safe_html(content) else escape(content)

    parser.add_render_rule("html_block", raw)
    parser.add_render_rule("html_inline", raw)
    return parser


_PARSER = _parser()


def markdown_to_html(source: str) -> str:
    """``source`` (Markdown with Jinja tags) as an HTML template with the same tags.

    A statement alone on its line (``{% for ... %}``, ``{% endif %}``) stays between
    blocks; any other tag stays where it is in the text.
    """
    guard = TagGuard()
    hidden = STATEMENT_LINE.sub(lambda match: guard.comment(match[1]), source)
    hidden = JINJA_TAG.sub(lambda match: guard.token(match[0]), hidden)
    return guard.restore(_PARSER.render(hidden))
