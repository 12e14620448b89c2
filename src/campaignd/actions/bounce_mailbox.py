"""The bounce mailbox: read the DSNs and complaint reports that came back, apply them, and
mark them processed (``feedback.mailbox``).

A report is tied to its delivery by, in order: the bounce token of the address it was sent
to (``bounces+<token>@BOUNCE_DOMAIN``), the Message-ID of the original message it quotes
(``<{campaignId}.{deliveryId}.{installation}@{domain}>``), or failing both the failed
address, through the campaign that last mailed it. The mailbox serves every organization:
a report that names nothing of ours is left unseen and flagged, and changes nothing.

A message is marked processed only after its events are applied; a crash in between
reads it again next time, and applying an event twice changes nothing (its id is the
report's Message-ID and the address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from campaignd.actions.errors import Invalid
from campaignd.actions.feedback import apply_event
from campaignd.actions.services import Services
from campaignd.delivery.bounce_address import SECRET_NAME, bounce_tokens
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.feedback import FeedbackEvent, FeedbackSource, delivery_of_message_id
from campaignd.feedback.mailbox import MailboxProblem, MailboxTarget, mark_processed, unprocessed
from campaignd.feedback.reports import Report, read_report
from campaignd.logs import log_event
from campaignd.store.feedback import last_delivery_to
from campaignd.store.secrets import installation_id, instance_secret

logger = logging.getLogger("campaignd.feedback")

BATCH = 100


@dataclass
class PollResult:
    read: int = 0
    """Messages read from the mailbox."""
    applied: int = 0
    """Bounces and complaints applied (new events)."""
    repeated: int = 0
    """Events applied before (a message read twice)."""
    unmatched: int = 0
    """Bounces and complaints that named no delivery or address of ours."""
    ignored: int = 0
    """Messages that were no bounce or complaint (left unseen and flagged)."""


def mailbox_target(services: Services) -> MailboxTarget:
    url = services.settings.bounce_imap_url
    if not url:
        raise Invalid("CAMPAIGND_BOUNCE_IMAP_URL is not set: there is no bounce mailbox")
    try:
        return MailboxTarget.from_url(url)
    except ValueError as error:
        raise Invalid(f"CAMPAIGND_BOUNCE_IMAP_URL {error}") from None


async def poll_once(
    services: Services, *, progress: Callable[[PollResult], None] | None = None
) -> PollResult:
    """Drain the mailbox once: every message not processed yet. Raises Invalid when there
    is no mailbox, MailboxProblem when it cannot be read."""
    target = mailbox_target(services)
    secret = await instance_secret(services.database, SECRET_NAME)
    installation = await installation_id(services.database)
    result = PollResult()
    while messages := await asyncio.to_thread(unprocessed, target, limit=BATCH):
        read: list[str] = []
        unread: list[str] = []
        for uid, raw in messages:
            result.read += 1
            report = read_report(raw)
            if report is None:
                result.ignored += 1
                unread.append(uid)
                continue
            read.append(uid)
            for event in await _events(services, report, secret, installation):
                if event is None:
                    result.unmatched += 1
                    continue
                applied = await apply_event(services, event)
                if not applied.matched:
                    result.unmatched += 1
                elif applied.new:
                    result.applied += 1
                else:
                    result.repeated += 1
        await asyncio.to_thread(mark_processed, target, read=read, unread=unread)
        if progress is not None:
            progress(result)
    return result


def _delivery_named(report: Report, secret: str, installation: str) -> int | None:
    tokens = bounce_tokens(secret)
    for token in report.tokens:
        try:
            return tokens.read(token)
        except ValueError:
            continue
    for message_id in report.message_ids:
        found = delivery_of_message_id(message_id, installation)
        if found is not None:
            return found
    return None


async def _events(
    services: Services, report: Report, secret: str, installation: str
) -> list[FeedbackEvent | None]:
    """The report's events (None for a recipient that names nothing of ours)."""
    named = _delivery_named(report, secret, installation)
    recipients = report.recipients[:1] if named is not None else report.recipients
    events: list[FeedbackEvent | None] = []
    for recipient in recipients:
        delivery_id = named
        if delivery_id is None and recipient.email:
            try:
                email = normalise(recipient.email)
            except InvalidAddress:
                events.append(None)
                continue
            async with services.database.connection() as connection:
                delivery_id = await last_delivery_to(connection, email)
        if delivery_id is None:
            events.append(None)
            continue
        events.append(
            FeedbackEvent(
                source=FeedbackSource.MAILBOX,
                event_id=f"{report.report_id}:{recipient.email or delivery_id}",
                kind=recipient.kind,
                email=recipient.email,
                delivery_id=delivery_id,
                detail=recipient.detail or None,
            )
        )
    return events


async def poll_forever(services: Services, stop: asyncio.Event) -> None:
    """Poll every ``BOUNCE_IMAP_INTERVAL`` seconds until ``stop``; a mailbox that cannot
    be read is logged and tried again next time."""
    interval = services.settings.bounce_imap_interval
    while not stop.is_set():
        try:
            result = await poll_once(services)
        except (MailboxProblem, Invalid) as problem:
            log_event(logger, "bounce mailbox not read", level=logging.WARNING, error=str(problem))
        else:
            if result.read:
                log_event(
                    logger,
                    "bounce mailbox read",
                    read=result.read,
                    applied=result.applied,
                    unmatched=result.unmatched,
                    ignored=result.ignored,
                )
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
