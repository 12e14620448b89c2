"""Test sends: a campaign's message as one recipient gets it, sent at once to a few addresses.

The message is laid out by the campaign's own builder (``delivery.builders``: the same
templates, limits, headers and DKIM keys as delivery), with three differences that keep a
test harmless: the subject starts with ``[Test] ``, the unsubscribe links (the
``List-Unsubscribe`` header and the footer or ``{{ unsubscribe_url }}``) point to the inert
preview page, so whoever gets a test cannot unsubscribe the recipient whose variables it
shows, and the Message-ID is a new one, so a receiver never takes a test for the real
message (nor one test for another). It goes out through a transport of its own
(``delivery.single_message``): nothing is queued, counted, recorded in the delivery ledger or
the cooldown, and nobody is suppressed, whatever the server answers.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from campaignd.delivery.builders import Builders
from campaignd.delivery.messages import CampaignContent, Message, MessageBuilder
from campaignd.delivery.rendering import CampaignBuilders, RenderThread
from campaignd.delivery.single_message import single_transport
from campaignd.delivery.tracking import Tracking
from campaignd.delivery.transports import Reply
from campaignd.domain.templates import DEFAULT_LIMITS, RenderLimits, TemplateProblem
from campaignd.settings import Settings
from campaignd.store.database import Database

SUBJECT_PREFIX = "[Test] "
INERT_UNSUBSCRIBE_PATH = "/u/preview"
"""The page a test's unsubscribe links open: it says it comes from a preview and changes
nothing (``api.unsubscribe``, the same page as the admin UI's preview)."""


class ProofBuilder(MessageBuilder):
    """A campaign's builder for test sends: ``[Test] `` subjects, inert unsubscribe links,
    Message-IDs of their own (``{campaign}.{n}.test-{random}.{installation}@{domain}``)."""

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
    ) -> None:
        """``bounce_domain`` and ``tracking`` are taken and never used: a test's bounce must
        not reach the recipient it shows (its envelope sender is the From address), and its
        links stay as written."""
        del bounce_domain, tracking
        super().__init__(
            content,
            public_url=public_url,
            unsubscribe_secret=unsubscribe_secret,
            installation=f"test-{secrets.token_hex(6)}.{installation}",
            limits=limits,
        )
        self._inert_url = public_url.rstrip("/") + INERT_UNSUBSCRIBE_PATH

    def unsubscribe_url(self, email: str) -> str:
        return self._inert_url

    def render(
        self, email: str, variables: Mapping[str, Any] | None, url: str
    ) -> tuple[str, str | None, str | None]:
        subject, html, text = super().render(email, variables, url)
        return SUBJECT_PREFIX + subject, html, text

    def proof(
        self, number: int, recipient: str, variables: Mapping[str, Any] | None, to: str
    ) -> Message:
        """The message as ``recipient`` (with ``variables``) gets it, addressed to ``to``."""
        message = self.build(number, recipient, variables)
        head, blank, body = message.data.partition(b"\r\n\r\n")
        line = f"\r\nTo: {recipient}\r\n".encode()
        if line not in head:
            raise ValueError("the message has no To header to readdress")
        head = head.replace(line, f"\r\nTo: {to}\r\n".encode(), 1)
        return replace(message, recipient=to, data=head + blank + body)


@dataclass(frozen=True)
class Outcome:
    """What the transport answered for one test address."""

    to: str
    reply: Reply

    @property
    def accepted(self) -> bool:
        return self.reply.accepted


async def send_proofs(
    database: Database,
    settings: Settings,
    campaign_id: int,
    *,
    recipient: str | None,
    variables: Mapping[str, Any] | None,
    to: Sequence[str],
) -> list[Outcome]:
    """Build the campaign's message for ``recipient`` and send one copy to each of ``to``,
    one after the other over one connection (``recipient`` None: each address is its own
    recipient, with ``variables``). Raises TemplateProblem when the message cannot
    be built or rendered (delivery would fail it too), and LookupError when the campaign is
    gone."""
    thread = RenderThread()
    try:
        builders = Builders(
            database, settings, thread=thread, message_builder=ProofBuilder, track=False
        )
        built = await builders.load(campaign_id)
        if built is None:
            raise LookupError(f"campaign {campaign_id} not found")
        if isinstance(built, TemplateProblem):
            raise built
        messages = [
            await _message(built, thread, number, recipient or address, variables, address)
            for number, address in enumerate(to, start=1)
        ]
    finally:
        thread.close()
    transport = single_transport(settings)
    outcomes: list[Outcome] = []
    try:
        for message in messages:
            try:
                reply = await transport.send(message)
            except ValueError as error:  # an address that cannot be put in an SMTP command
                reply = Reply(None, str(error), "mail")
            outcomes.append(Outcome(message.recipient, reply))
    finally:
        await transport.close()
    return outcomes


async def _message(
    built: CampaignBuilders,
    thread: RenderThread,
    number: int,
    recipient: str,
    variables: Mapping[str, Any] | None,
    to: str,
) -> Message:
    builder = built.full
    assert isinstance(builder, ProofBuilder)
    try:
        message = await thread.run(builder.proof, number, recipient, variables, to)
    except TemplateProblem:
        raise
    except Exception as error:  # a template may fail on one recipient's values only
        raise TemplateProblem(
            "template", f"cannot be rendered for {recipient} ({type(error).__name__}: {error})"
        ) from None
    if built.signer is not None:
        message = await built.signer.sign(message)
    return message
