"""The bounce mailbox over IMAP (``BOUNCE_IMAP_URL``): read the messages not yet
processed, and mark them processed.

``imaps://user:password@host:993/INBOX`` (TLS), ``imap+starttls://...`` or ``imap://...``
(plain, for a server on loopback). A processed message gets the keyword
``$CampaigndProcessed`` (and ``\\Seen`` when it was a bounce or complaint; a message that
was neither is left unseen and flagged, for a person to look at), so the next poll skips
it and nothing is deleted. imaplib blocks: call these in a thread.
"""

from __future__ import annotations

import imaplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

PROCESSED = "$CampaigndProcessed"
DEFAULT_PORTS = {"imaps": 993, "imap+starttls": 143, "imap": 143}
TIMEOUT = 30.0


class MailboxProblem(Exception):
    """The mailbox could not be read (connection, login, folder); the message says why."""


@dataclass(frozen=True)
class MailboxTarget:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    security: str = "tls"  # tls, starttls or none

    @classmethod
    def from_url(cls, url: str) -> MailboxTarget:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError("must start with imaps://, imap+starttls:// or imap://")
        if not parts.hostname or parts.username is None or parts.password is None:
            raise ValueError("must name a host, a user and a password (imaps://user:pass@host)")
        security = {"imaps": "tls", "imap+starttls": "starttls", "imap": "none"}[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            security=security,
        )


def _open(target: MailboxTarget) -> imaplib.IMAP4:
    try:
        client: imaplib.IMAP4
        if target.security == "tls":
            client = imaplib.IMAP4_SSL(
                target.host,
                target.port,
                ssl_context=ssl.create_default_context(),
                timeout=TIMEOUT,
            )
        else:
            client = imaplib.IMAP4(target.host, target.port, timeout=TIMEOUT)
            if target.security == "starttls":
                client.starttls(ssl.create_default_context())
        client.login(target.user, target.password)
        status, _ = client.select(_quoted(target.folder))
        if status != "OK":
            client.logout()
            raise MailboxProblem(f"no folder '{target.folder}' in the bounce mailbox")
        return client
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxProblem(f"bounce mailbox {target.host}:{target.port}: {error}") from None


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unprocessed(target: MailboxTarget, *, limit: int) -> list[tuple[str, bytes]]:
    """Up to ``limit`` messages not processed yet, oldest first: (uid, raw bytes)."""
    client = _open(target)
    try:
        status, data = client.uid("SEARCH", "UNKEYWORD", PROCESSED)
        if status != "OK":
            raise MailboxProblem(f"bounce mailbox: search refused: {data!r}")
        uids = [uid.decode() for uid in (data[0] or b"").split()[:limit]]
        found: list[tuple[str, bytes]] = []
        for uid in uids:
            status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(
                (part[1] for part in parts if isinstance(part, tuple) and len(part) > 1), None
            )
            if status == "OK" and isinstance(raw, bytes):
                found.append((uid, raw))
        return found
    except imaplib.IMAP4.error as error:
        raise MailboxProblem(f"bounce mailbox: {error}") from None
    finally:
        client.logout()


def mark_processed(target: MailboxTarget, *, read: list[str], unread: list[str]) -> None:
    """Mark messages processed: ``read`` ones (bounces, complaints) seen too, ``unread``
    ones (neither) flagged for a person."""
    if not read and not unread:
        return
    client = _open(target)
    try:
        if read:
            client.uid("STORE", ",".join(read), "+FLAGS.SILENT", f"({PROCESSED} \\Seen)")
        if unread:
            client.uid("STORE", ",".join(unread), "+FLAGS.SILENT", f"({PROCESSED} \\Flagged)")
    except imaplib.IMAP4.error as error:
        raise MailboxProblem(f"bounce mailbox: {error}") from None
    finally:
        client.logout()
