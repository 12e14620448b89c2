"""Double opt-in: the sealed link of a confirmation message, and the message itself.

The link's token seals (organization id, address, list ids, time issued) with AES-GCM
under the instance's ``unsubscribe`` secret and a salt of its own, so it cannot be read,
forged, or taken for an unsubscribe token (nor one for it). Unlike an unsubscribe link it
expires: ``domain.lists.CONFIRMATION_LIFETIME`` after it was issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from html import escape

from campaignd.delivery.messages import Message
from campaignd.delivery.single_message import single_message
from campaignd.delivery.unsubscribe import TokenSigner

SALT = "campaignd.subscribe"
SECRET_NAME = "unsubscribe"
KIND = "confirm"
CONFIRM_PATH = "/subscribe/confirm/"


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link asks to confirm."""

    organization_id: int
    email: str
    list_ids: tuple[int, ...]
    issued_at: datetime


@lru_cache(maxsize=8)
def _signer(secret: str) -> TokenSigner:
    return TokenSigner(secret, salt=SALT)


def make_confirmation_token(secret: str, confirmation: Confirmation) -> str:
    return _signer(secret).seal(
        [
            KIND,
            confirmation.organization_id,
            confirmation.email,
            list(confirmation.list_ids),
            int(confirmation.issued_at.timestamp()),
        ]
    )


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_confirmation_token(secret: str, token: str) -> Confirmation:
    """What ``token`` confirms; ValueError when it is forged or malformed (expiry is the
    caller's to judge, against ``issued_at``)."""
    payload = _signer(secret).open(token)
    if (
        not isinstance(payload, list)
        or len(payload) != 5
        or payload[0] != KIND
        or not _whole(payload[1])
        or not isinstance(payload[2], str)
        or not isinstance(payload[3], list)
        or not all(_whole(item) for item in payload[3])
        or not _whole(payload[4])
    ):
        raise ValueError("invalid confirmation token")
    return Confirmation(
        organization_id=payload[1],
        email=payload[2],
        list_ids=tuple(payload[3]),
        issued_at=datetime.fromtimestamp(payload[4], UTC),
    )


def confirmation_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + CONFIRM_PATH + token


def _names(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def confirmation_message(
    *,
    sender: str,
    recipient: str,
    organization_name: str,
    list_names: list[str],
    url: str,
    days: int,
    installation: str,
) -> Message:
    """The message that asks ``recipient`` to confirm joining ``list_names``."""
    lists = _names(list_names)
    plural = "s" if len(list_names) > 1 else ""
    text = (
        f"Hello,\n\nsomeone, hopefully you, asked to subscribe {recipient} to the list{plural} "
        f"{lists} of {organization_name}.\n\n"
        f"To confirm, open this link (it works for {days} days):\n{url}\n\n"
        "If it was not you, ignore this message: nothing is sent to you without the "
        "confirmation.\n"
    )
    html = (
        '<div style="font-family:system-ui,sans-serif;max-width:32rem">'
        f"<p>Hello,</p><p>someone, hopefully you, asked to subscribe "
        f"<strong>{escape(recipient)}</strong> to the list{plural} {escape(lists)} of "
        f"{escape(organization_name)}.</p>"
        f'<p><a href="{escape(url, quote=True)}" style="display:inline-block;background:#1f2933;'
        'color:#fff;padding:.7rem 1.2rem;border-radius:8px;text-decoration:none">'
        "Confirm my subscription</a></p>"
        f"<p>The link works for {days} days. If it was not you, ignore this message: nothing "
        "is sent to you without the confirmation.</p></div>"
    )
    return single_message(
        kind=KIND,
        sender=sender,
        recipient=recipient,
        subject=f"Confirm your subscription to {organization_name}",
        text=text,
        html=html,
        installation=installation,
        headers={"Auto-Submitted": "auto-generated"},
    )
