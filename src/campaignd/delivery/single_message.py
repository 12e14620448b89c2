"""One message sent at once, outside the campaign queue: a double opt-in confirmation, say.

``single_message`` lays out a small message (text and, optionally, HTML) and
``send_single`` hands any ``Message`` (one of a campaign's ``MessageBuilder`` too) to a
transport of its own made from ``EMAIL_TRANSPORT``: one SMTP connection opened for it and
closed after it, or one ``.eml`` file in the outbox. Nothing is queued, retried or
recorded in the delivery ledger or the cooldown: the caller learns what happened from the
``Reply`` and decides.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from email.utils import formatdate

from campaignd.delivery.encoding import mailbox, quoted_printable, unstructured
from campaignd.delivery.messages import HTML_PART, TEXT_PART, Message
from campaignd.delivery.transports import (
    FileTransport,
    Reply,
    SmtpTarget,
    SmtpTransport,
    Transport,
    file_directory,
)
from campaignd.domain.addresses import domain_of
from campaignd.settings import Settings


def single_message(
    *,
    kind: str,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str | None = None,
    installation: str,
    headers: Mapping[str, str] | None = None,
) -> Message:
    """A message to one address; ``kind`` (letters and dashes) starts its Message-ID:
    ``{kind}.{random}.{installation}@{sender's domain}``. ``headers`` are added as they are
    (names and values must be plain ASCII on one line)."""
    sender_header, envelope_sender = mailbox(sender)
    domain = domain_of(envelope_sender)
    message_id = f"{kind}.{secrets.token_hex(8)}.{installation}@{domain}"
    head = (
        f"Message-ID: <{message_id}>\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"From: {sender_header}\r\n"
        f"To: {recipient}\r\n"
        f"{unstructured('Subject', subject)}\r\n"
    )
    for name, value in (headers or {}).items():
        if not (name.isascii() and value.isascii()) or "\n" in value or "\r" in value:
            raise ValueError(f"header {name!r} must be plain ASCII on one line")
        head += f"{name}: {value}\r\n"
    head += "MIME-Version: 1.0\r\n"
    return Message(
        message_id=message_id,
        sender=envelope_sender,
        recipient=recipient,
        data=head.encode("utf-8") + _body(text, html),
    )


def _body(text: str, html: str | None) -> bytes:
    if html is None:
        return TEXT_PART + b"\r\n" + quoted_printable(text)
    boundary = f"=_campaignd_{secrets.token_hex(8)}"
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode(),
            delimiter,
            TEXT_PART,
            b"\r\n",
            quoted_printable(text),
            delimiter,
            HTML_PART,
            b"\r\n",
            quoted_printable(html),
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )


def single_transport(settings: Settings) -> Transport:
    """A transport for one message: one connection (or file) of ``EMAIL_TRANSPORT``."""
    url = settings.email_transport
    if url.startswith("file://"):
        return FileTransport(file_directory(url), connections=1)
    return SmtpTransport(SmtpTarget.from_url(url), connections=1)


async def send_single(settings: Settings, message: Message) -> Reply:
    """Send ``message`` now and close the connection; the server's reply (never raises for
    a delivery problem: ``Reply.code`` is None when no server answered)."""
    transport = single_transport(settings)
    try:
        return await transport.send(message)
    except ValueError as error:  # an address that cannot be put in an SMTP command
        return Reply(None, str(error), "mail")
    finally:
        await transport.close()
