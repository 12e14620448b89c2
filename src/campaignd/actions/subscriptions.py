"""Joining lists from the public subscribe form, and confirming a double opt-in.

Anyone may post an address to an organization's form, so what the form does is bounded:

- only the organization's public lists can be joined; an unknown list and a private one
  are refused with the same words, so the form tells nothing about private lists;
- a single opt-in list takes the address at once (``confirmed``); a double opt-in list
  holds it ``unconfirmed`` and a confirmation message with a sealed link goes out;
- at most one confirmation message per address and organization per day
  (``CONFIRMATION_INTERVAL``), however often the form is posted: list bombing sends
  nothing more; an address suppressed as bounced, complained or manual gets none at all;
- the answer depends only on the lists asked for, never on the address: it does not tell
  whether the address was a member already, or whether a message went out.

Confirming (a POST from the link's page; GET only shows it) moves the memberships the
link names from ``unconfirmed`` to ``confirmed``. It is fresh consent from the mailbox's
owner, so an address that had unsubscribed from everything (suppression ``unsubscribed``)
is subscribed again; any other suppression stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Invalid, NotFound
from campaignd.actions.services import Services
from campaignd.delivery.confirmation import (
    SECRET_NAME,
    Confirmation,
    confirmation_message,
    confirmation_url,
    make_confirmation_token,
    read_confirmation_token,
)
from campaignd.delivery.messages import Message
from campaignd.delivery.single_message import send_single
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.audience import ContactStatus, MemberStatus, OptIn, Visibility
from campaignd.domain.lists import CONFIRMATION_INTERVAL, CONFIRMATION_LIFETIME
from campaignd.logs import log_event
from campaignd.store import audit
from campaignd.store import lists as store
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.erasure import erased_among
from campaignd.store.list_contacts import (
    change_contact_status,
    ensure_contacts,
    lift_unsubscribed,
    locked_contact_id,
    suppression_reason,
)
from campaignd.store.organizations import organization_by_id, organization_by_slug
from campaignd.store.secrets import installation_id, instance_secret

logger = logging.getLogger("campaignd.lists")

FORM_SOURCE = "form"
"""The ``source`` of a contact created by the public subscribe form."""
FORM_ACTOR = "subscribe-form"
LINK_ACTOR = "confirmation-link"
MAX_LISTS = 100
FUTURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class PublicForm:
    """An organization's subscribe form: its public lists (None: there is no form)."""

    organization_id: int
    slug: str
    name: str
    lists: list[store.MailingList]


@dataclass(frozen=True)
class Pending:
    """A confirmation message to send, and what to take back if it cannot be sent."""

    message: Message
    contact_id: int
    list_ids: tuple[int, ...]
    sent_at: datetime


@dataclass(frozen=True)
class Subscription:
    """The answer to a subscribe request: the same for every address."""

    lists: list[str]
    needs_confirmation: bool
    """Some list asked for is double opt-in: the answer says to look for a message."""
    pending: Pending | None = None
    """The message to send now (never shown to the requester)."""


@dataclass(frozen=True)
class ConfirmationState:
    """What a confirmation link's page shows."""

    organization_name: str
    slug: str
    email: str
    waiting: list[str]
    """Lists the link can still confirm."""
    confirmed: list[str]
    """Lists of the link the address is a confirmed member of."""
    expired: bool


async def public_form(database: Database, slug: str) -> PublicForm | None:
    """The organization's form; None when there is no such organization or it has no
    public list (both look the same from outside)."""
    async with database.connection() as connection:
        organization = await organization_by_slug(connection, slug)
        if organization is None:
            return None
        public = await store.all_lists(
            connection,
            organization_id=int(organization["id"]),
            visibility=Visibility.PUBLIC.value,
            counted=False,
        )
    if not public:
        return None
    return PublicForm(
        organization_id=int(organization["id"]),
        slug=slug,
        name=str(organization["name"]),
        lists=public,
    )


def _address(email: str) -> str:
    if not email.strip():
        raise Invalid("email: enter your email address")
    try:
        return normalise(email)
    except InvalidAddress as error:
        raise Invalid(f"email: '{email}' is not a valid address: {error}") from None


def _chosen(form: PublicForm, names: list[str]) -> list[store.MailingList]:
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise Invalid("lists: choose at least one list")
    if len(wanted) > MAX_LISTS:
        raise Invalid(f"lists: at most {MAX_LISTS} lists at once")
    by_name = {item.name: item for item in form.lists}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise Invalid(f"lists: no public list '{unknown[0]}' to join here")
    return [by_name[name] for name in wanted]


async def subscribe(
    services: Services,
    slug: str,
    email: str,
    list_names: list[str],
    *,
    client: str | None,
    robot: bool = False,
) -> Subscription:
    """Join ``list_names`` (public lists of the organization ``slug``) with ``email``.

    Raises NotFound when the organization has no form, Invalid for a bad address or a
    list that cannot be joined here; otherwise answers the same whatever the address.
    ``robot``: the form's honeypot was filled in; the answer is the same, nothing changes.
    """
    form = await public_form(services.database, slug)
    if form is None:
        raise NotFound(f"no subscribe form at /subscribe/{slug}")
    address = _address(email)
    chosen = _chosen(form, list_names)
    answer = Subscription(
        lists=[item.name for item in chosen],
        needs_confirmation=any(item.opt_in == OptIn.DOUBLE.value for item in chosen),
    )
    if robot:
        log_event(logger, "subscribe form: honeypot filled in, ignored", client=client)
        return answer
    async with services.database.connection() as connection:
        if await erased_among(connection, form.organization_id, [address]):
            return answer  # erased on request: never subscribed again, and nobody is told
    secret = await instance_secret(services.database, SECRET_NAME)
    installation = await installation_id(services.database)
    now = utcnow()
    async with services.database.transaction() as connection:
        await ensure_contacts(
            connection,
            organization_id=form.organization_id,
            emails=[address],
            source=FORM_SOURCE,
            now=now,
        )
        contact_id = await locked_contact_id(
            connection, organization_id=form.organization_id, email=address
        )
        assert contact_id is not None
        statuses = await store.member_statuses(
            connection, contact_id=contact_id, list_ids=[item.id for item in chosen]
        )
        joined = [
            item
            for item in chosen
            if item.opt_in == OptIn.SINGLE.value
            and statuses.get(item.id) != MemberStatus.CONFIRMED.value
        ]
        asked = [
            item
            for item in chosen
            if item.opt_in == OptIn.DOUBLE.value
            and statuses.get(item.id)
            not in (MemberStatus.UNCONFIRMED.value, MemberStatus.CONFIRMED.value)
        ]
        await store.set_member_status(
            connection,
            contact_id=contact_id,
            list_ids=[item.id for item in joined],
            status=MemberStatus.CONFIRMED.value,
            now=now,
        )
        await store.set_member_status(
            connection,
            contact_id=contact_id,
            list_ids=[item.id for item in asked],
            status=MemberStatus.UNCONFIRMED.value,
            now=now,
        )
        waiting = [
            item
            for item in chosen
            if item.opt_in == OptIn.DOUBLE.value
            and statuses.get(item.id, MemberStatus.UNCONFIRMED.value)
            != MemberStatus.CONFIRMED.value
        ]
        send = waiting and await _may_send(connection, form.organization_id, contact_id, address)
        if send:
            await store.mark_confirmation_sent(
                connection, contact_id=contact_id, list_ids=[item.id for item in waiting], at=now
            )
        if joined or asked or send:
            await audit.record(
                connection,
                actor=FORM_ACTOR,
                action="list.subscribe",
                organization_id=form.organization_id,
                detail={
                    "email": address,
                    "joined": [item.name for item in joined],
                    "asked": [item.name for item in asked],
                    "confirmationSent": bool(send),
                    "client": client,
                },
            )
    if not send:
        return answer
    confirmation = Confirmation(
        organization_id=form.organization_id,
        email=address,
        list_ids=tuple(item.id for item in waiting),
        issued_at=now,
    )
    url = confirmation_url(
        services.settings.public_url, make_confirmation_token(secret, confirmation)
    )
    message = confirmation_message(
        sender=services.settings.from_address,
        recipient=address,
        organization_name=form.name,
        list_names=[item.name for item in waiting],
        url=url,
        days=CONFIRMATION_LIFETIME.days,
        installation=installation,
    )
    pending = Pending(
        message=message, contact_id=contact_id, list_ids=confirmation.list_ids, sent_at=now
    )
    return Subscription(answer.lists, answer.needs_confirmation, pending)


async def _may_send(
    connection: AsyncConnection, organization_id: int, contact_id: int, email: str
) -> bool:
    """Whether a confirmation message may go to the address now: none in the last day,
    and not suppressed for a reason that forbids mail (bounced, complained, manual)."""
    reason = await suppression_reason(connection, organization_id=organization_id, email=email)
    if reason is not None and reason != "unsubscribed":
        return False
    last = await store.last_confirmation_sent(
        connection, organization_id=organization_id, contact_id=contact_id
    )
    return last is None or utcnow() - last >= CONFIRMATION_INTERVAL


async def send_confirmation(services: Services, pending: Pending) -> bool:
    """Send the confirmation message now. When it cannot be sent, the day's allowance is
    given back (the address can ask again at once). True when the server accepted it."""
    reply = await send_single(services.settings, pending.message)
    if reply.accepted:
        log_event(logger, "confirmation message sent", message_id=pending.message.message_id)
        return True
    log_event(
        logger,
        "confirmation message not sent",
        level=logging.WARNING,
        message_id=pending.message.message_id,
        reply=str(reply),
    )
    async with services.database.transaction() as connection:
        await store.take_back_confirmation(
            connection,
            contact_id=pending.contact_id,
            list_ids=pending.list_ids,
            sent_at=pending.sent_at,
        )
    return False


# -- the confirmation link --------------------------------------------------------------------


async def _confirmation(database: Database, token: str) -> Confirmation | None:
    secret = await instance_secret(database, SECRET_NAME)
    try:
        confirmation = read_confirmation_token(secret, token)
    except ValueError:
        return None
    if (confirmation.issued_at - utcnow()).total_seconds() > FUTURE_TOLERANCE_SECONDS:
        return None
    return confirmation


async def confirmation_state(database: Database, token: str) -> ConfirmationState | None:
    """What the link ``token`` stands for; None when it is forged or its organization is
    gone. GET shows this and changes nothing."""
    confirmation = await _confirmation(database, token)
    if confirmation is None:
        return None
    async with database.connection() as connection:
        organization = await organization_by_id(connection, confirmation.organization_id)
        if organization is None:
            return None
        current = await store.memberships(
            connection,
            organization_id=confirmation.organization_id,
            email=confirmation.email,
            statuses=store.ACTIVE,
        )
    named = [item for item in current if item.list_id in confirmation.list_ids]
    return ConfirmationState(
        organization_name=str(organization["name"]),
        slug=str(organization["slug"]),
        email=confirmation.email,
        waiting=[item.name for item in named if item.status == MemberStatus.UNCONFIRMED.value],
        confirmed=[item.name for item in named if item.status == MemberStatus.CONFIRMED.value],
        expired=utcnow() - confirmation.issued_at > CONFIRMATION_LIFETIME,
    )


async def confirm(database: Database, token: str) -> ConfirmationState | None:
    """Confirm what the link names (POST from its page); harmless when repeated. None for
    a forged link; an expired one changes nothing (``expired`` says so)."""
    confirmation = await _confirmation(database, token)
    if confirmation is None:
        return None
    if utcnow() - confirmation.issued_at <= CONFIRMATION_LIFETIME:
        await _confirm(database, confirmation)
    return await confirmation_state(database, token)


async def _confirm(database: Database, confirmation: Confirmation) -> None:
    now = utcnow()
    organization_id, email = confirmation.organization_id, confirmation.email
    async with database.transaction() as connection:
        contact_id = await locked_contact_id(
            connection, organization_id=organization_id, email=email
        )
        if contact_id is None:
            return
        confirmed = await store.confirm_members(
            connection,
            organization_id=organization_id,
            contact_id=contact_id,
            list_ids=confirmation.list_ids,
            now=now,
        )
        if not confirmed:
            return
        lifted = await lift_unsubscribed(connection, organization_id=organization_id, email=email)
        if lifted:
            await change_contact_status(
                connection,
                contact_id=contact_id,
                status=ContactStatus.SUBSCRIBED,
                from_statuses=[ContactStatus.UNSUBSCRIBED],
                now=now,
            )
        await audit.record(
            connection,
            actor=LINK_ACTOR,
            action="list.confirm",
            organization_id=organization_id,
            detail={"email": email, "lists": confirmed, "resubscribed": lifted},
        )
