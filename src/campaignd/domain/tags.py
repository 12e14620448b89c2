"""Jinja tags set aside while a step that does not know Jinja (Markdown, the CSS inliner,
the text converter) works on a template, and put back afterwards.

Each tag becomes a token of letters and digits that no step changes: inside markup (a tag's
attributes), inside comments and in elements whose text is not HTML (``<style>``,
``<title>``...) a bare word, elsewhere an HTML comment, which an HTML parser keeps where it
is (a bare word between table rows would be moved out of the table).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import css_inline

JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
WORD_ELEMENTS = ("style", "title", "textarea", "script")
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


@dataclass
class TagGuard:
    """Tokens for the Jinja tags of one template; ``restore`` puts the tags back."""

    tags: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: "cdtag" + secrets.token_hex(4))

    def token(self, tag: str) -> str:
        name = f"{self.prefix}n{len(self.tags)}x"
        self.tags[name] = tag
        return name

    def restore(self, text: str) -> str:
        if not self.tags:
            return text
        pattern = re.compile(
            rf"<!--\s*({self.prefix}n\d+x)\s*-->|({self.prefix}n\d+x)", re.IGNORECASE
        )
        return pattern.sub(lambda match: self.tags[(match[1] or match[2]).lower()], text)

    def hide(self, html: str) -> str:
        """``html`` with its tags as tokens: words inside markup, comments elsewhere."""
        lowered = html.lower()

        def replace(match: re.Match[str]) -> str:
            start = match.start()
            return self.token(match[0]) if _in_markup(lowered, start) else self.comment(match[0])

        return JINJA_TAG.sub(replace, html)

    def comment(self, tag: str) -> str:
        return f"<!--{self.token(tag)}-->"

    def words(self, text: str) -> str:
        """``text`` with every tag as a bare word."""
        return JINJA_TAG.sub(lambda match: self.token(match[0]), text)


def _in_markup(lowered: str, position: int) -> bool:
    """Whether ``position`` is inside a tag's ``<...>``, an HTML comment (Outlook's
    ``<!--[if mso]>...<![endif]-->`` too) or the text of a ``WORD_ELEMENTS``."""
    if lowered.rfind("<!--", 0, position) > lowered.rfind("-->", 0, position):
        return True
    opened = lowered.rfind("<", 0, position)
    if opened > lowered.rfind(">", 0, position) and opened + 1 < len(lowered):
        following = lowered[opened + 1]
        if following.isalpha() or following == "/":
            return True
    for name in WORD_ELEMENTS:
        if lowered.rfind(f"<{name}", 0, position) > lowered.rfind(f"</{name}", 0, position):
            return True
    return False


def inline_css(html: str) -> str:
    """``html`` with the rules of its ``<style>`` blocks copied into ``style`` attributes
    (the blocks stay, for the clients that read them: media queries); unchanged without a
    ``<style>`` block. Remote stylesheets are never fetched."""
    if "<style" not in html.lower():
        return html
    guard = TagGuard()
    hidden = guard.hide(html)
    try:
        inlined = _INLINER.inline(hidden)
    except ValueError:  # CSS it cannot read: the message goes out as written
        return html
    return guard.restore(inlined)
