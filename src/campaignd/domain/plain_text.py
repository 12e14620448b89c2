"""The plain-text part made from a message's HTML: readable text, no markup.

Links become ``text (url)`` (just the address when the text is the address), headings are
underlined, list items start with ``-`` or their number, table cells are separated by
spaces and rows by lines, images are their ``alt`` text; ``<style>``, ``<script>`` and
``<head>`` are left out. The template's Jinja tags go through unchanged.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from campaignd.domain.tags import TagGuard

BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
HEADINGS = {"h1": "=", "h2": "-", "h3": "", "h4": "", "h5": "", "h6": ""}
TIGHT = frozenset({"tr", "div", "thead", "tbody", "tfoot"})
"""Blocks that end a line but leave no blank line after it."""
HIDDEN = frozenset({"style", "script", "head", "title", "template"})
SPACES = re.compile(r"[ \t\r\n\f\v]+")
WIDTH = 72


class _Converter(HTMLParser):
    def __init__(self, guard: TagGuard) -> None:
        super().__init__(convert_charrefs=True)
        self.guard = guard
        self.lines: list[str] = []
        self.line = ""
        self.hidden = 0
        self.links: list[tuple[str, int]] = []  # href, where its text starts in self.line
        self.lists: list[list[int]] = []  # per open list: [number] (0 for bullets)
        self.heading: str | None = None
        self.preformatted = 0

    # -- structure ------------------------------------------------------------------------

    def flush(self, blank: bool = True) -> None:
        text = self.line.rstrip()
        if text.strip():
            self.lines.append(text)
            if self.heading is not None and HEADINGS[self.heading]:
                self.lines.append(HEADINGS[self.heading] * min(len(text), WIDTH))
        self.line = ""
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in HIDDEN:
            self.hidden += 1
        elif tag in HEADINGS:
            self.flush()
            self.heading = tag
        elif tag in ("ul", "ol"):
            self.flush(blank=not self.lists)
            self.lists.append([1 if tag == "ol" else 0])
        elif tag == "li":
            self.flush(blank=False)
            marker = "-"
            if self.lists and self.lists[-1][0]:
                marker = f"{self.lists[-1][0]}."
                self.lists[-1][0] += 1
            self.line = "  " * max(0, len(self.lists) - 1) + marker + " "
        elif tag == "br":
            self.flush(blank=False)
        elif tag in ("td", "th"):
            if self.line.strip():
                self.line = self.line.rstrip() + "  "
        elif tag == "pre":
            self.flush()
            self.preformatted += 1
        elif tag == "a":
            self.links.append((values.get("href", ""), len(self.line)))
        elif tag == "img" and values.get("alt"):
            self.line += values["alt"]
        elif tag in BLOCKS:
            self.flush(blank=tag not in TIGHT)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in HEADINGS:
            self.flush()
            self.heading = None
        elif tag in ("ul", "ol"):
            self.flush(blank=False)
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self.flush()
        elif tag == "li":
            self.flush(blank=False)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = self.line[start:].strip()
            if href and not href.startswith("#") and href.removeprefix("mailto:") != text:
                self.line += f" ({href})" if text else href
        elif tag == "pre":
            self.flush()
            self.preformatted = max(0, self.preformatted - 1)
        elif tag in BLOCKS:
            self.flush(blank=tag not in TIGHT)

    # -- text -----------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.preformatted:
            *complete, rest = data.split("\n")
            for part in complete:
                self.line += part
                self.lines.append(self.line.rstrip())
                self.line = ""
            self.line += rest
            return
        text = SPACES.sub(" ", data)
        if not self.line.strip():
            text = text.lstrip()
        if self.line.endswith(" ") and text.startswith(" "):
            text = text[1:]
        self.line += text

    def handle_comment(self, data: str) -> None:
        token = data.strip()
        if token not in self.guard.tags:
            return  # a comment of the HTML (Outlook's conditional blocks too): not text
        tag = self.guard.tags[token]
        if tag.startswith(("{%", "{#")) and not self.line.strip():
            if self.lines and self.lines[-1] == "":
                self.lines.pop()
            self.lines.append(tag)  # a statement on its own line, as it was written
            return
        self.line += tag

    def text(self) -> str:
        self.flush()
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def text_from_html(html: str) -> str:
    """The text of an HTML template, its Jinja tags unchanged."""
    guard = TagGuard()
    converter = _Converter(guard)
    converter.feed(guard.hide(html))
    converter.close()
    return guard.restore(converter.text())
