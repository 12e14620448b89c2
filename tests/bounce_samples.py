"""Bounce and complaint messages as receivers send them, after the samples of RFC 3464
(DSN) and RFC 5965 (ARF), an Exim bounce without a DSN, and an out-of-office reply."""

from __future__ import annotations

from email.utils import formatdate, make_msgid


def dsn(
    *,
    to: str,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown",
    original_headers: str = "",
) -> bytes:
    """A Postfix-style delivery status notification for ``recipient``, sent to ``to``."""
    diagnostic = diagnostic.format(recipient=recipient)
    return (
        f"Return-Path: <>\r\n"
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.net')}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        f"\r\n"
        f"--B\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n"
        f"\r\n"
        f"I'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n"
        f"\r\n"
        f"--B\r\n"
        f"Content-Type: message/delivery-status\r\n"
        f"\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n"
        f"Arrival-Date: {formatdate()}\r\n"
        f"\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mail.example.org\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
        f"\r\n"
        f"--B\r\n"
        f"Content-Type: text/rfc822-headers\r\n"
        f"\r\n"
        f"{original_headers}"
        f"\r\n"
        f"--B--\r\n"
    ).encode()


def arf(*, original: bytes, recipient: str | None = None, mail_from: str = "") -> bytes:
    """A Yahoo-style ARF complaint carrying the original message."""
    rcpt = f"Original-Rcpt-To: {recipient}\r\n" if recipient else ""
    envelope = f"Original-Mail-From: <{mail_from}>\r\n" if mail_from else ""
    head = (
        f"From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>\r\n"
        f"To: fbl@acme.example\r\n"
        f"Subject: FW: Winter news\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='arf.mail.yahoo.com')}\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        f"\r\n"
        f"--F\r\n"
        f"Content-Type: text/plain\r\n"
        f"\r\n"
        f"This is an email abuse report for an email message received on {formatdate()}\r\n"
        f"\r\n"
        f"--F\r\n"
        f"Content-Type: message/feedback-report\r\n"
        f"\r\n"
        f"Feedback-Type: abuse\r\n"
        f"User-Agent: Yahoo!-Mail-Feedback/2.0\r\n"
        f"Version: 1\r\n"
        f"{envelope}"
        f"{rcpt}"
        f"Arrival-Date: {formatdate()}\r\n"
        f"Reported-Domain: acme.example\r\n"
        f"\r\n"
        f"--F\r\n"
        f"Content-Type: message/rfc822\r\n"
        f"Content-Disposition: inline\r\n"
        f"\r\n"
    ).encode()
    return head + original.rstrip(b"\r\n") + b"\r\n\r\n--F--\r\n"


def exim_bounce(*, to: str, recipient: str) -> bytes:
    """Exim's plain-text bounce: no DSN, no original headers, only the failed address."""
    return (
        f"Return-Path: <>\r\n"
        f"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\r\n"
        f"To: {to}\r\n"
        f"Subject: Mail delivery failed: returning message to sender\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.net')}\r\n"
        f"X-Failed-Recipients: {recipient}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"\r\n"
        f"This message was created automatically by mail delivery software.\r\n"
        f"\r\n"
        f"A message that you sent could not be delivered to one or more of its\r\n"
        f"recipients. This is a permanent error. The following address(es) failed:\r\n"
        f"\r\n"
        f"  {recipient}\r\n"
        f"    SMTP error from remote mail server after RCPT TO:<{recipient}>:\r\n"
        f"    550 5.1.1 User unknown\r\n"
    ).encode()


def out_of_office(*, to: str, sender: str) -> bytes:
    return (
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        f"Subject: Automatic reply: Winter news\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='example.org')}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"\r\n"
        f"I am away until Monday.\r\n"
    ).encode()
