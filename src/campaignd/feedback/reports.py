"""Reading a message of the bounce mailbox: an RFC 3464 delivery status notification, an
RFC 5965 (ARF) complaint, or a bounce in one of the many non-standard shapes
(``flufl.bounce`` finds the failed addresses of those).

What it finds is what ties the report to one of our messages: the bounce tokens of
``bounces+<token>@...`` addresses (``delivery.bounce_address``), and the Message-IDs of the
original message the report carries (as ``message/rfc822`` or ``text/rfc822-headers``).
Pure: no I/O, no database.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from flufl.bounce import all_failures

from campaignd.delivery.bounce_address import tokens_in
from campaignd.domain.feedback import FeedbackKind, kind_of_status

ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
MESSAGE_ID_LINE = re.compile(r"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
MAX_RECIPIENTS = 100


@dataclass(frozen=True)
class ReportedRecipient:
    email: str | None
    kind: FeedbackKind
    detail: str = ""


@dataclass(frozen=True)
class Report:
    report_id: str
    """The report's own Message-ID (or a digest of its bytes): an event seen twice is
    recognised by it."""
    recipients: list[ReportedRecipient]
    tokens: list[str] = field(default_factory=list)
    """Bounce tokens found, those of the addresses it was sent to first."""
    message_ids: list[str] = field(default_factory=list)
    """Message-IDs of the original message found in the report."""


def read_report(raw: bytes) -> Report | None:
    """What the message reports, or None when it reports no bounce or complaint (an
    out-of-office reply, a ``delayed`` notice, a message that is no report at all)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    recipients = _recipients(message)
    if not recipients:
        return None
    own_id = str(message.get("Message-ID", "")).strip()
    report_id = own_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    return Report(
        report_id=report_id,
        recipients=recipients[:MAX_RECIPIENTS],
        tokens=_tokens(message, raw),
        message_ids=[found for found in _message_ids(message, raw) if found != own_id],
    )


def _recipients(message: EmailMessage) -> list[ReportedRecipient]:
    report_type = ""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "")).lower()
    if report_type == "feedback-report":
        return _complaint(message)
    if report_type == "delivery-status":
        found = _delivery_status(message)
        if found is not None:
            return found
    return _other_bounce(message)


def _complaint(message: EmailMessage) -> list[ReportedRecipient]:
    """An ARF report: one complaint, for the ``Original-Rcpt-To`` addresses if any are
    given (receivers often redact them: the delivery is then found by its token or
    Message-ID)."""
    feedback = _part(message, "message/feedback-report")
    fields = _fields(feedback)
    feedback_type = next((value for name, value in fields if name == "feedback-type"), "abuse")
    if feedback_type.strip().lower() == "not-spam":
        return []
    emails = [_address(value) for name, value in fields if name == "original-rcpt-to"]
    detail = f"complaint ({feedback_type.strip()})"
    return [
        ReportedRecipient(email=address, kind=FeedbackKind.COMPLAINT, detail=detail)
        for address in (emails or [None])
    ]


def _delivery_status(message: EmailMessage) -> list[ReportedRecipient] | None:
    """The failed recipients of a DSN; None when it has no readable status part."""
    status_part = _part(message, "message/delivery-status")
    if status_part is None:
        return None
    blocks = status_part.get_payload()
    if not isinstance(blocks, list):
        return None
    found: list[ReportedRecipient] = []
    for block in blocks[1:]:
        if not isinstance(block, Message):
            continue
        fields = {name.lower(): str(value) for name, value in block.items()}
        diagnostic = fields.get("diagnostic-code", "")
        kind = kind_of_status(fields.get("action", ""), fields.get("status", ""), diagnostic)
        if kind is None:
            continue
        address = _address(fields.get("original-recipient", "")) or _address(
            fields.get("final-recipient", "")
        )
        detail = " ".join(part for part in (fields.get("status", ""), diagnostic) if part)
        found.append(ReportedRecipient(email=address, kind=kind, detail=detail.strip()[:500]))
    return found


def _other_bounce(message: EmailMessage) -> list[ReportedRecipient]:
    """A bounce in another shape (Exim, qmail, Exchange...): its failed addresses. (Not
    ``Auto-Submitted``: bounces carry it as out-of-office replies do.)"""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector that trips over odd input must not stop the mailbox
        return []
    return [
        ReportedRecipient(email=address.decode(errors="replace"), kind=kind)
        for addresses, kind in (
            (sorted(permanent), FeedbackKind.HARD_BOUNCE),
            (sorted(temporary - permanent), FeedbackKind.SOFT_BOUNCE),
        )
        for address in addresses
    ]


def _part(message: EmailMessage, content_type: str) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() == content_type), None)


def _fields(part: Message | None) -> list[tuple[str, str]]:
    """The fields of a ``message/feedback-report`` part (name lower-cased, in order)."""
    if part is None:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        return [
            (name.lower(), str(value))
            for block in payload
            if isinstance(block, Message)
            for name, value in block.items()
        ]
    text = payload if isinstance(payload, str) else ""
    parsed = email.message_from_string(text.lstrip("\r\n"), policy=email.policy.default)
    return [(name.lower(), str(value)) for name, value in parsed.items()]


def _address(value: str) -> str | None:
    """``rfc822; a@example.net`` (or ``<a@example.net>``): the address, or None."""
    text = value.split(";", 1)[1] if ";" in value else value
    text = text.strip().strip("<>").strip()
    return text if "@" in text else None


def _tokens(message: EmailMessage, raw: bytes) -> list[str]:
    first = [
        token
        for name in ADDRESS_HEADERS
        for value in message.get_all(name, [])
        for token in tokens_in(str(value))
    ]
    return list(dict.fromkeys(first + tokens_in(raw.decode("latin-1"))))


def _message_ids(message: EmailMessage, raw: bytes) -> list[str]:
    """Message-IDs of the attached original (``message/rfc822``, ``text/rfc822-headers``),
    then any ``Message-ID:`` line in the report (some MTAs quote the headers as text)."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.append(str(inner[0].get("Message-ID", "")).strip())
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                found.extend(MESSAGE_ID_LINE.findall(text.decode("latin-1")))
    found.extend(MESSAGE_ID_LINE.findall(raw.decode("latin-1")))
    return [item for item in dict.fromkeys(found) if item]
