"""List actions for the team: lists, their members, and the embeddable subscribe form.

Members added by the team are ``confirmed`` by default, on a double opt-in list too: the
team vouches for them (an address it collected with consent elsewhere). ``unconfirmed``
records people who still have to confirm; only a double opt-in list has those. A member
who left a list (``unsubscribed``, from the preference centre) is not brought back by
adding the address again: remove it first, then add it, to override that on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import normalised, organization_of
from campaignd.domain.audience import MemberStatus, OptIn, Visibility
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.domain.lists import name_problem
from campaignd.domain.subscribe_form import FormList, form_html
from campaignd.store import audit, segments
from campaignd.store import lists as store
from campaignd.store.columns import utcnow
from campaignd.store.erasure import erased_among
from campaignd.store.list_contacts import ensure_contacts

LIST_SOURCE = "list"
"""The ``source`` of a contact created because the team added its address to a list."""

UNFINISHED = (
    CampaignStatus.DRAFT.value,
    CampaignStatus.SCHEDULED.value,
    CampaignStatus.SENDING.value,
    CampaignStatus.PAUSED.value,
    CampaignStatus.MISSED.value,
)
"""Statuses of a campaign that may still send: a list it targets cannot be deleted."""

EDITABLE = ("name", "description", "visibility", "opt_in")


@dataclass(frozen=True)
class MembersAdded:
    organization: str
    list: str
    added: int
    updated: int
    unchanged: int
    kept_unsubscribed: int
    contacts_created: int
    erased: int = 0
    """Addresses erased on request: never added back."""


@dataclass(frozen=True)
class MembersRemoved:
    organization: str
    list: str
    removed: int
    unchanged: int


@dataclass(frozen=True)
class FormSnippet:
    organization: str
    lists: list[str]
    action: str
    html: str


def _checked_name(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise Invalid(f"name: {problem}")
    return name


def _choice(field: str, value: str, allowed: type[Visibility] | type[OptIn]) -> str:
    choices = [item.value for item in allowed]
    if value not in choices:
        raise Invalid(f"{field}: must be one of {', '.join(choices)}, not '{value}'")
    return value


async def _list(
    connection: AsyncConnection, organization_id: int, slug: str, name: str
) -> store.MailingList:
    found = await store.get_list(connection, organization_id=organization_id, name=name)
    if found is None:
        raise NotFound(f"no list '{name}' in {slug}")
    return found


async def list_lists(
    services: Services, principal: Principal, *, organization: str | None = None
) -> tuple[str, list[store.MailingList]]:
    """The organization's lists in name order, with their member counts."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        return slug, await store.all_lists(connection, organization_id=organization_id)


async def get_list(
    services: Services, principal: Principal, name: str, *, organization: str | None = None
) -> tuple[str, store.MailingList]:
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        return slug, await _list(connection, organization_id, slug, name)


async def create_list(
    services: Services,
    principal: Principal,
    *,
    name: str,
    description: str | None = None,
    visibility: str = Visibility.PRIVATE.value,
    opt_in: str = OptIn.DOUBLE.value,
    organization: str | None = None,
) -> tuple[str, store.MailingList]:
    """A new list; 409 when the organization has one of that name already."""
    principal.require_change()
    _checked_name(name)
    _choice("visibility", visibility, Visibility)
    _choice("optIn", opt_in, OptIn)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        created = await store.create_list(
            connection,
            organization_id=organization_id,
            name=name,
            description=description,
            visibility=visibility,
            opt_in=opt_in,
            now=utcnow(),
        )
        if created is None:
            raise Conflict(f"{slug} already has a list named '{name}'")
        await audit.record(
            connection,
            actor=principal.actor,
            action="list.create",
            organization_id=organization_id,
            target=name,
            detail={"visibility": visibility, "optIn": opt_in},
        )
    return slug, created


async def update_list(
    services: Services,
    principal: Principal,
    name: str,
    changes: Mapping[str, Any],
    *,
    organization: str | None = None,
) -> tuple[str, store.MailingList]:
    """Change ``changes`` (``name``, ``description``, ``visibility``, ``opt_in``).

    Turning a double opt-in list into a single one leaves its unconfirmed members
    unconfirmed; a rename keeps every member and every campaign that targets the list, and
    the segments whose filter names the list name it by its new name.
    """
    principal.require_change()
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]}: cannot be changed")
    if "name" in changes:
        _checked_name(str(changes["name"]))
    if "visibility" in changes:
        _choice("visibility", str(changes["visibility"]), Visibility)
    if "opt_in" in changes:
        _choice("optIn", str(changes["opt_in"]), OptIn)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        current = await _list(connection, organization_id, slug, name)
        new_name = str(changes.get("name", name))
        if new_name != name and await store.get_list(
            connection, organization_id=organization_id, name=new_name, counted=False
        ):
            raise Conflict(f"{slug} already has a list named '{new_name}'")
        if changes:
            now = utcnow()
            await store.update_list(connection, list_id=current.id, changes=dict(changes), now=now)
            detail: dict[str, Any] = {"changes": dict(changes)}
            if new_name != name:
                detail["segments"] = await segments.follow_list_rename(
                    connection, organization_id=organization_id, old=name, new=new_name, now=now
                )
            await audit.record(
                connection,
                actor=principal.actor,
                action="list.update",
                organization_id=organization_id,
                target=name,
                detail=detail,
            )
        updated = await _list(connection, organization_id, slug, new_name)
    return slug, updated


async def delete_list(
    services: Services, principal: Principal, name: str, *, organization: str | None = None
) -> str:
    """Delete the list and its memberships (the contacts stay); 409 naming the campaigns
    while one that may still send targets it."""
    principal.require_change()
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        current = await _list(connection, organization_id, slug, name)
        targeting = await store.campaigns_targeting(
            connection, list_id=current.id, statuses=UNFINISHED
        )
        if targeting:
            named = ", ".join(f"{id_} '{title}' ({status})" for id_, title, status in targeting)
            raise Conflict(
                f"list '{name}' is targeted by campaigns that may still send: {named}; "
                "take it out of them, or wait until they finish"
            )
        await store.delete_list(connection, list_id=current.id)
        await audit.record(
            connection,
            actor=principal.actor,
            action="list.delete",
            organization_id=organization_id,
            target=name,
            detail={"members": current.members},
        )
    return slug


async def add_members(
    services: Services,
    principal: Principal,
    name: str,
    emails: list[str],
    *,
    status: str = MemberStatus.CONFIRMED.value,
    organization: str | None = None,
) -> MembersAdded:
    """Add addresses to the list, creating the contacts that do not exist yet
    (``subscribed``, source ``list``). One invalid address refuses the whole request."""
    principal.require_change()
    allowed = (MemberStatus.CONFIRMED.value, MemberStatus.UNCONFIRMED.value)
    if status not in allowed:
        raise Invalid(f"status: must be one of {', '.join(allowed)}, not '{status}'")
    addresses = normalised(emails)
    now = utcnow()
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        target = await _list(connection, organization_id, slug, name)
        if status == MemberStatus.UNCONFIRMED.value and target.opt_in == OptIn.SINGLE.value:
            raise Invalid(
                f"status: '{name}' is a single opt-in list, whose members are confirmed "
                "when added; only a double opt-in list has unconfirmed members"
            )
        erased = await erased_among(connection, organization_id, addresses)
        addresses = [address for address in addresses if address not in erased]
        created = await ensure_contacts(
            connection,
            organization_id=organization_id,
            emails=addresses,
            source=LIST_SOURCE,
            now=now,
        )
        change = await store.add_members(
            connection,
            organization_id=organization_id,
            list_id=target.id,
            emails=addresses,
            status=status,
            now=now,
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="list.members.add",
            organization_id=organization_id,
            target=name,
            detail={
                "emails": addresses[:100],
                "count": len(addresses),
                "status": status,
                "added": change.added,
                "updated": change.updated,
            },
        )
    return MembersAdded(
        organization=slug,
        list=name,
        added=change.added,
        updated=change.updated,
        unchanged=change.unchanged,
        kept_unsubscribed=change.kept_unsubscribed,
        erased=len(erased),
        contacts_created=created,
    )


async def remove_members(
    services: Services,
    principal: Principal,
    name: str,
    emails: list[str],
    *,
    organization: str | None = None,
) -> MembersRemoved:
    """Take addresses off the list (their contacts and other lists stay)."""
    principal.require_change()
    addresses = normalised(emails)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        target = await _list(connection, organization_id, slug, name)
        removed = await store.remove_members(
            connection, list_id=target.id, organization_id=organization_id, emails=addresses
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="list.members.remove",
            organization_id=organization_id,
            target=name,
            detail={"emails": addresses[:100], "count": len(addresses), "removed": removed},
        )
    return MembersRemoved(
        organization=slug, list=name, removed=removed, unchanged=len(addresses) - removed
    )


async def list_members(
    services: Services,
    principal: Principal,
    name: str,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    organization: str | None = None,
) -> tuple[str, list[store.Member], str | None]:
    """The organization, a page of the list's members (address order), the next cursor."""
    if status is not None and status not in store.MEMBER_STATUSES:
        raise Invalid(f"status: must be one of {', '.join(store.MEMBER_STATUSES)}")
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        target = await _list(connection, organization_id, slug, name)
        rows = await store.members_page(
            connection, list_id=target.id, status=status, after_email=cursor, limit=limit + 1
        )
    page = rows[:limit]
    return slug, page, (page[-1].email if len(rows) > limit else None)


def subscribe_url(public_url: str, slug: str) -> str:
    return f"{public_url.rstrip('/')}/subscribe/{slug}"


async def form_snippet(
    services: Services,
    principal: Principal,
    *,
    lists: list[str] | None = None,
    organization: str | None = None,
) -> FormSnippet:
    """The HTML of a subscribe form for ``lists`` (default: every public list), to paste
    into a web page; it posts to ``{PUBLIC_URL}/subscribe/{organization}``."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        if lists:
            found = await store.lists_named(
                connection, organization_id=organization_id, names=lists
            )
        else:
            found = await store.all_lists(
                connection,
                organization_id=organization_id,
                visibility=Visibility.PUBLIC.value,
                counted=False,
            )
            if not found:
                raise Invalid(f"lists: {slug} has no public list; make one public first")
    by_name = {item.name: item for item in found}
    for wanted in lists or []:
        if wanted not in by_name:
            raise Invalid(f"lists: no list '{wanted}' in {slug}")
        if by_name[wanted].visibility != Visibility.PUBLIC.value:
            raise Invalid(
                f"lists: '{wanted}' is private; make it public first (visibility: public)"
            )
    chosen = [by_name[wanted] for wanted in lists] if lists else found
    action = subscribe_url(services.settings.public_url, slug)
    html = form_html(
        action=action,
        lists=[FormList(item.name, item.description) for item in chosen],
        chosen=[item.name for item in chosen],
    )
    return FormSnippet(
        organization=slug, lists=[item.name for item in chosen], action=action, html=html
    )
