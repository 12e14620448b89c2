"""MIME assembly: every message of a campaign from templates compiled once.

Per recipient only the personal parts are rendered; the rest of the message is laid out
once per campaign and the bytes are joined directly (quoted-printable bodies, RFC 2047
headers, CRLF line ends), which is several times faster than ``email.message`` objects.

Templates are users' code: compiling them (``MessageBuilder(...)``, which also tries them)
and rendering them (``build``, ``render``) run within ``RenderLimits`` and can take up to
``limits.timeout`` each, so callers on the event loop run them in ``template_thread``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from campaignd.delivery.bounce_address import bounce_tokens
from campaignd.delivery.encoding import mailbox, quoted_printable, unstructured
from campaignd.delivery.tracking import Tracking
from campaignd.delivery.unsubscribe import TokenSigner
from campaignd.domain.addresses import domain_of
from campaignd.domain.content import Layout, compose
from campaignd.domain.templates import (
    DEFAULT_LIMITS,
    RenderLimits,
    compile_campaign,
    recipient_context,
)

if TYPE_CHECKING:
    from campaignd.settings import Settings

FOOTER_HTML = (
    '<p style="margin-top:24px;font-size:12px;color:#6b7280">'
    'Don\'t want these emails? <a href="{url}">Unsubscribe</a>.</p>'
)
FOOTER_TEXT = "\n\n-- \nTo unsubscribe: {url}\n"
ONE_CLICK = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
TEXT_PART = (
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
)
HTML_PART = (
    b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
)


TEMPLATE_THREADS = 2
"""Threads that compile, try and preview templates for the API, admin UI and CLI: a few
slow templates queue behind each other instead of taking the process's default executor
(which also resolves host names) or the event loop."""

_template_threads = ThreadPoolExecutor(TEMPLATE_THREADS, thread_name_prefix="campaignd-template")

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


async def template_thread(
    function: Callable[Parameters, Result], *args: Parameters.args, **kwargs: Parameters.kwargs
) -> Result:
    """``function(*args, **kwargs)`` in a template thread, off the event loop.

    For work on user templates (``MessageBuilder(...)``, ``compile_campaign``, ``render``):
    bounded by ``RenderLimits``, so a thread is never held longer than about the timeout.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_template_threads, partial(function, *args, **kwargs))


def render_limits(settings: Settings) -> RenderLimits:
    """The ``CAMPAIGND_TEMPLATE_*`` settings as the limits of one render."""
    return RenderLimits(
        timeout=settings.template_timeout,
        max_output=settings.template_max_output,
        max_iterations=settings.template_max_iterations,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One message ready for a transport."""

    message_id: str  # without angle brackets: ``{campaign}.{delivery}.{installation}@{domain}``
    sender: str  # envelope sender (bare address)
    recipient: str
    data: bytes


@dataclass(frozen=True)
class CampaignContent:
    campaign_id: int
    organization_id: int
    subject: str
    html_body: str | None
    text_body: str | None
    from_address: str
    reply_to: str | None = None
    organization: str | None = None  # the organization's slug: its List-Id
    body_format: str = "html"
    layout: Layout | None = None
    """The layout the body is placed in (``domain.content``); from a row, the copy the
    campaign took when it started."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, default_from: str) -> CampaignContent:
        return cls(
            campaign_id=int(row["id"]),
            organization_id=int(row["organization_id"]),
            subject=str(row["subject"]),
            html_body=row["html_body"],
            text_body=row["text_body"],
            from_address=row["from_address"] or default_from,
            reply_to=row["reply_to"],
            organization=row.get("organization"),
            body_format=row.get("body_format") or "html",
            layout=(
                Layout(html=str(row["layout_html"]), text=row.get("layout_text"))
                if row.get("layout") and row.get("layout_html")
                else None
            ),
        )


def with_html_footer(html: str, url: str) -> str:
    footer = FOOTER_HTML.format(url=escape(url, quote=True))
    closing = html.lower().rfind("</body>")
    if closing == -1:
        return html + footer
    return html[:closing] + footer + html[closing:]


def with_text_footer(text: str, url: str) -> str:
    return text.rstrip("\n") + FOOTER_TEXT.format(url=url)


class _Clock:
    """The Date header, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._header = b""

    def header(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._header = f"Date: {formatdate(now, usegmt=True)}\r\n".encode("ascii")
        return self._header


class MessageBuilder:
    """Builds the messages of one campaign; construct once, call ``build`` per recipient.

    Constructing compiles and tries the templates (TemplateProblem if they are refused);
    ``build`` and ``render`` raise RenderLimitExceeded when one recipient's render goes
    over ``limits``. Both are synchronous and CPU-bound: call them off the event loop.
    """

    def __init__(
        self,
        content: CampaignContent,
        *,
        public_url: str,
        unsubscribe_secret: str,
        installation: str,
        limits: RenderLimits = DEFAULT_LIMITS,
        bounce_domain: str | None = None,
        tracking: Tracking | None = None,
    ):
        """``installation``: the short id of this database (``store.secrets``), part of
        every Message-ID so that two installations never send the same one.
        ``bounce_domain``: when set, each message's envelope sender is its delivery's own
        bounce address there (``delivery.bounce_address``); otherwise the From address.
        ``tracking``: the campaign's click and open tracking (None: messages carry their
        links as written, as test messages and previews do); it marks the links of the
        final per-campaign HTML (after the layout, Markdown and CSS inlining)."""
        self.content = content
        self.installation = installation
        self.tracking = tracking
        composed = compose(
            html_body=content.html_body,
            text_body=content.text_body,
            body_format=content.body_format,
            layout=content.layout,
        )
        html_body = composed.html if tracking is None else tracking.prepare(composed.html)
        self.templates = compile_campaign(content.subject, html_body, composed.text, limits=limits)
        self._signer = TokenSigner(unsubscribe_secret)
        self._bounce_domain = bounce_domain
        self._bounce_tokens = bounce_tokens(unsubscribe_secret) if bounce_domain else None
        self._unsubscribe_base = public_url.rstrip("/") + "/u/"
        sender_header, self.sender = mailbox(content.from_address)
        self.domain = domain_of(self.sender)
        self._boundary = f"=_campaignd_{content.campaign_id}_{secrets.token_hex(8)}"
        self._clock = _Clock()
        fixed = f"From: {sender_header}\r\n"
        if content.reply_to:
            fixed += f"Reply-To: {mailbox(content.reply_to)[0]}\r\n"
        if content.organization:
            fixed += f"List-Id: <{content.organization}.{self.domain}>\r\n"
        fixed += f"X-Campaign-Id: {content.campaign_id}\r\nMIME-Version: 1.0\r\n"
        self._fixed = fixed.encode("utf-8") + ONE_CLICK
        self._content_type = self._content_type_header()

    def _content_type_header(self) -> bytes:
        if self.templates.html is not None and self.templates.text is not None:
            return (
                f'Content-Type: multipart/alternative;\r\n boundary="{self._boundary}"\r\n'
            ).encode("ascii")
        return b""

    def unsubscribe_url(self, email: str) -> str:
        return self._unsubscribe_base + self._signer.make(self.content.organization_id, email)

    def render(
        self, email: str, variables: Mapping[str, Any] | None, url: str
    ) -> tuple[str, str | None, str | None]:
        """Subject, HTML and text as ``email`` gets them, unsubscribe footers included.

        Raises RenderLimitExceeded (a TemplateProblem naming the field and the limit) when
        the render goes over its limits, and whatever else the templates raise.
        """
        subject, html, text = self.templates.render(recipient_context(email, variables, url))
        if html is not None and not self.templates.html_has_unsubscribe:
            html = with_html_footer(html, url)
        if text is not None and not self.templates.text_has_unsubscribe:
            text = with_text_footer(text, url)
        if html is None and text is None:
            text = with_text_footer("", url)
        return subject, html, text

    def build(self, delivery_id: int, email: str, variables: Mapping[str, Any] | None) -> Message:
        """The message for one recipient; raises as ``render`` does."""
        url = self.unsubscribe_url(email)
        subject, html, text = self.render(email, variables, url)
        if self.tracking is not None and html is not None:
            html = self.tracking.apply(html, delivery_id)
        message_id = f"{self.content.campaign_id}.{delivery_id}.{self.installation}@{self.domain}"
        head = (
            f"Message-ID: <{message_id}>\r\n"
            f"To: {email}\r\n"
            f"{unstructured('Subject', subject)}\r\n"
            f"List-Unsubscribe: <{url}>\r\n"
        ).encode()
        data = b"".join((head, self._clock.header(), self._fixed, self._body(html, text)))
        sender = self.sender
        if self._bounce_tokens is not None and self._bounce_domain is not None:
            sender = self._bounce_tokens.address(delivery_id, self._bounce_domain)
        return Message(message_id=message_id, sender=sender, recipient=email, data=data)

    def _body(self, html: str | None, text: str | None) -> bytes:
        if html is not None and text is not None:
            delimiter = f"--{self._boundary}\r\n".encode("ascii")
            return b"".join(
                (
                    self._content_type,
                    b"\r\n",
                    delimiter,
                    TEXT_PART,
                    b"\r\n",
                    quoted_printable(text),
                    delimiter,
                    HTML_PART,
                    b"\r\n",
                    quoted_printable(html),
                    f"--{self._boundary}--\r\n".encode("ascii"),
                )
            )
        if html is not None:
            return HTML_PART + b"\r\n" + quoted_printable(html)
        assert text is not None
        return TEXT_PART + b"\r\n" + quoted_printable(text)
