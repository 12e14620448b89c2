"""Click and open tracking in messages: the per-campaign marking and the per-message links.

Once per campaign (``Tracking.prepare``), the final per-campaign HTML template gets its
tracked links numbered and marked (``domain.links``); per message (``Tracking.apply``),
each marker becomes ``PUBLIC_URL/c/<token>`` and, with open tracking, a 1x1 image
``PUBLIC_URL/o/<token>`` is added before ``</body>``.

Tokens are sealed like unsubscribe tokens (AES-GCM under a key derived from the instance's
link secret, see ``delivery.unsubscribe``), each kind under its own salt: a click token
holds (campaign id, delivery id, link number, when the message was built), an open token
(campaign id, delivery id, when built). Neither can be forged, altered or turned into
the other, and neither holds a URL.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache

from campaignd.delivery.unsubscribe import TokenSigner
from campaignd.domain.links import MARKER, MarkedBody, mark_links

CLICK_SALT = "campaignd.click"
OPEN_SALT = "campaignd.open"
CLICK_PATH = "/c/"
OPEN_PATH = "/o/"
UNSUBSCRIBE_PATH = "/u/"

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class ClickToken:
    campaign_id: int
    delivery_id: int
    link_index: int
    sent_at: int  # seconds since the epoch


@dataclass(frozen=True)
class OpenToken:
    campaign_id: int
    delivery_id: int
    sent_at: int


def _integers(payload: object, count: int) -> list[int]:
    if (
        not isinstance(payload, list)
        or len(payload) != count
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in payload)
        or any(item < 0 for item in payload)
    ):
        raise ValueError("invalid tracking token")
    return payload


class TrackingTokens:
    """Seals and opens click and open tokens with one secret."""

    def __init__(self, secret: str) -> None:
        self._clicks = TokenSigner(secret, salt=CLICK_SALT)
        self._opens = TokenSigner(secret, salt=OPEN_SALT)

    def click(self, campaign_id: int, delivery_id: int, link_index: int, sent_at: int) -> str:
        return self._clicks.seal([campaign_id, delivery_id, link_index, sent_at])

    def open(self, campaign_id: int, delivery_id: int, sent_at: int) -> str:
        return self._opens.seal([campaign_id, delivery_id, sent_at])

    def read_click(self, token: str) -> ClickToken:
        """ValueError for anything forged, altered or malformed."""
        return ClickToken(*_integers(self._clicks.open(token), 4))

    def read_open(self, token: str) -> OpenToken:
        """ValueError for anything forged, altered or malformed."""
        return OpenToken(*_integers(self._opens.open(token), 3))


@lru_cache(maxsize=8)
def tracking_tokens(secret: str) -> TrackingTokens:
    return TrackingTokens(secret)


def pixel(url: str) -> str:
    return (
        f'<img src="{url}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )


def with_image(html: str, image: str) -> str:
    """``image`` just before the last ``</body>``, or at the end."""
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + image
    at = ends[-1].start()
    return html[:at] + image + html[at:]


class Tracking:
    """What one campaign tracks, and how its messages get their tracked links."""

    def __init__(
        self,
        *,
        campaign_id: int,
        public_url: str,
        secret: str,
        clicks: bool,
        opens: bool,
    ) -> None:
        self.campaign_id = campaign_id
        self.clicks = clicks
        self.opens = opens
        self._base = public_url.rstrip("/")
        self._tokens = tracking_tokens(secret)
        self.links: tuple[str, ...] = ()

    def prepare(self, html: str | None) -> str | None:
        """The final per-campaign HTML template with its tracked links marked; call once
        per campaign, before the template is compiled. Keeps the numbered URLs in
        ``links`` (to be stored with the campaign)."""
        if html is None or not self.clicks:
            return html
        marked: MarkedBody = mark_links(html, unsubscribe_prefix=self._base + UNSUBSCRIBE_PATH)
        self.links = marked.links
        return marked.html

    def apply(self, html: str, delivery_id: int, *, now: float | None = None) -> str:
        """One recipient's rendered HTML with its own click links and tracking image."""
        sent_at = int(time.time() if now is None else now)
        if self.clicks and self.links:
            tokens: dict[str, str] = {}

            def link(match: re.Match[str]) -> str:
                number = match.group(1)
                if number not in tokens:
                    token = self._tokens.click(self.campaign_id, delivery_id, int(number), sent_at)
                    tokens[number] = f"{self._base}{CLICK_PATH}{token}"
                return tokens[number]

            html = MARKER.sub(link, html)
        if self.opens:
            image = pixel(
                self._base + OPEN_PATH + self._tokens.open(self.campaign_id, delivery_id, sent_at)
            )
            html = with_image(html, image)
        return html
