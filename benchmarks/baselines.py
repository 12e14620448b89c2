"""What a straightforward implementation does, measured on the same machine in the same run.

- Fan-out: a loop over the campaign's recipients with one cooldown query (a ``SELECT`` from
  the contact ledger) and one queue push (an ``UPDATE`` of the delivery) per recipient,
  through the same database handle as campaignd. It writes no reservation, so it does less
  than campaignd and cannot hold the cooldown between two campaigns started together.
- Delivery: each message built with the standard ``email`` package (``EmailMessage`` with a
  text and an HTML alternative, the same Jinja2 templates compiled once and rendered per
  recipient) and sent
  over a new SMTP connection (``smtplib``: connect, EHLO, MAIL, RCPT, DATA, QUIT).
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import text

from benchmarks.common import HTML_BODY, SUBJECT, TEXT_BODY, email_of, variables_of
from campaignd.store.database import Database

COOLDOWN_QUERY = text(
    "SELECT campaign_name, contacted_at FROM cooldown_ledger "
    "WHERE scope = 0 AND email = :email AND contacted_at >= :cutoff"
)
QUEUE_PUSH = text("UPDATE deliveries SET status = 'queued' WHERE id = :id")
SKIP = text(
    "UPDATE deliveries SET status = 'skipped', code = 'cooldown', reason = :reason WHERE id = :id"
)


async def fan_out_one_by_one(
    database: Database, campaign_id: int, *, cooldown_days: int, now: datetime
) -> tuple[int, float]:
    """The loop of the original plan; returns (recipients, seconds)."""
    cutoff = now - timedelta(days=cooldown_days)
    if database.is_sqlite:
        cutoff_value: object = cutoff.replace(tzinfo=None).isoformat(sep=" ")
    else:
        cutoff_value = cutoff
    started = time.perf_counter()
    async with database.transaction() as connection:
        pending = (
            await connection.execute(
                text(
                    "SELECT id, email FROM deliveries "
                    "WHERE campaign_id = :campaign_id AND status = 'queued' ORDER BY id"
                ),
                {"campaign_id": campaign_id},
            )
        ).all()
        for delivery_id, email in pending:
            held = (
                await connection.execute(COOLDOWN_QUERY, {"email": email, "cutoff": cutoff_value})
            ).first()
            if held is None:
                await connection.execute(QUEUE_PUSH, {"id": delivery_id})
            else:
                reason = f"received '{held[0]}' recently"
                await connection.execute(SKIP, {"id": delivery_id, "reason": reason})
    return len(pending), time.perf_counter() - started


@dataclass(frozen=True)
class Templates:
    """The campaign's templates, compiled once (the baseline is not charged for compiling)."""

    subject: Template
    html: Template
    text: Template

    @classmethod
    def compile(cls) -> Templates:
        plain = SandboxedEnvironment()
        return cls(
            subject=plain.from_string(SUBJECT),
            html=SandboxedEnvironment(autoescape=True).from_string(HTML_BODY),
            text=plain.from_string(TEXT_BODY),
        )


def build_with_email_package(
    number: int, *, templates: Templates, campaign_id: int = 1
) -> EmailMessage:
    """One personalised message as a straightforward sender builds it."""
    email = email_of(number)
    context = {
        **variables_of(number),
        "email": email,
        "unsubscribe_url": f"http://127.0.0.1:8000/u/token-for-{number}",
    }
    message = EmailMessage()
    message["Subject"] = templates.subject.render(context)
    message["From"] = "Example Shop <news@shop.example.org>"
    message["To"] = email
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="shop.example.org")
    message["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Campaign-Id"] = str(campaign_id)
    message.set_content(templates.text.render(context))
    message.add_alternative(templates.html.render(context), subtype="html")
    return message


def send_one_connection_each(port: int, count: int) -> tuple[int, float]:
    """Build and send ``count`` messages, a new SMTP connection each; (sent, seconds)."""
    templates = Templates.compile()
    started = time.perf_counter()
    sent = 0
    for number in range(1, count + 1):
        message = build_with_email_package(number, templates=templates)
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(message)
        sent += 1
    return sent, time.perf_counter() - started


def build_only(count: int) -> tuple[int, float]:
    """MIME assembly alone with the ``email`` package: (messages, seconds)."""
    templates = Templates.compile()
    started = time.perf_counter()
    for number in range(1, count + 1):
        build_with_email_package(number, templates=templates).as_bytes()
    return count, time.perf_counter() - started
