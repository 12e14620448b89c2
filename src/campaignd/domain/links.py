"""The links of a campaign's HTML body that clicks are tracked on: found once per campaign.

``mark_links`` reads the per-campaign HTML template (before any recipient's values are
put in), numbers each distinct tracked URL from 0, and puts a marker in place of each
tracked ``href``; per message, ``delivery.tracking`` swaps every marker for that
recipient's ``PUBLIC_URL/c/<token>``. The URLs are stored with the campaign, and a click
is redirected to the stored URL of its number, never to anything the token carries.

Tracked: ``href`` values of ``<a>`` tags that are absolute ``http(s)`` URLs. Left alone:
``mailto:``, ``tel:`` and other schemes, anchors (``#...``) and relative links, links
whose tag has a ``data-no-track`` attribute, the unsubscribe link, and links whose URL
holds a template expression (``{{ ... }}`` or ``{% ... %}``): such a URL differs per
recipient, so no one stored URL could be redirected to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

MARKER_PREFIX = "https://campaignd-link.invalid/"
"""What a tracked ``href`` holds in the marked template: this prefix and the link's number.
``.invalid`` is reserved (RFC 2606): no real link starts with it, and HTML tools (CSS
inliners, minifiers) keep it as any other URL."""
MARKER = re.compile(re.escape(MARKER_PREFIX) + r"(\d+)")
MAX_URL_LENGTH = 4000

_ANCHOR_TAG = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(
    r"""(?P<before>\shref\s*=\s*)(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'>]+))""",
    re.IGNORECASE,
)
_NO_TRACK = re.compile(r"\sdata-no-track(?:[\s=>/]|$)", re.IGNORECASE)
_TEMPLATE = ("{{", "{%", "{#")


@dataclass(frozen=True)
class MarkedBody:
    """The HTML template with markers in place of the tracked links, and their URLs (the
    URL of link ``n`` is ``links[n]``)."""

    html: str
    links: tuple[str, ...]


def trackable(url: str, *, unsubscribe_prefix: str | None = None) -> bool:
    """Whether a link's URL (as the reader follows it) is tracked."""
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    if any(mark in url for mark in _TEMPLATE):
        return False
    if len(url) > MAX_URL_LENGTH:
        return False
    return not (unsubscribe_prefix and url.strip().startswith(unsubscribe_prefix))


def mark_links(html: str, *, unsubscribe_prefix: str | None = None) -> MarkedBody:
    """``html`` with each tracked link's ``href`` replaced by its marker (see the module).

    The same URL twice gets one number, so its clicks are counted together.
    """
    numbers: dict[str, int] = {}

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        if _NO_TRACK.search(text):
            return text
        href = _HREF.search(text)
        if href is None:
            return text
        raw = href.group("double") or href.group("single") or href.group("bare") or ""
        url = unescape(raw).strip()
        if not trackable(url, unsubscribe_prefix=unsubscribe_prefix):
            return text
        number = numbers.setdefault(url, len(numbers))
        replaced = f'{href.group("before")}"{MARKER_PREFIX}{number}"'
        return text[: href.start()] + replaced + text[href.end() :]

    marked = _ANCHOR_TAG.sub(tag, html)
    return MarkedBody(html=marked, links=tuple(numbers))
