"""Contact actions: bulk upsert and streamed imports, read, search, edit, delete, and the
privacy export and erasure of one address. Scoped to one organization, audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.campaigns import recipient_limits
from campaignd.actions.errors import Forbidden, Invalid, NotFound
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of as organization_acted_on
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import (
    MAX_CONTACTS_PER_REQUEST,
    ContactBatch,
    ContactError,
    ContactInput,
    IncomingRow,
    Mode,
    checked_attributes,
)
from campaignd.domain.recipients import InvalidRow, RecipientLimits
from campaignd.store import audit, contacts, erasure
from campaignd.store.columns import utcnow
from campaignd.store.contacts import Contact, TooManyAttributes, UpsertCounts
from campaignd.store.lists import MEMBER_STATUSES, Membership, get_list, memberships

INVALID_SHOWN = 1_000
"""Invalid rows listed in a report (all of them are counted)."""
SOURCE_CHARACTERS = 64


@dataclass
class ContactReport:
    """What an upsert or an import did: counts per row, and the rows with a bad address."""

    organization: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    erased: int = 0
    invalid_count: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)

    def include(self, counts: UpsertCounts, invalid: Sequence[InvalidRow]) -> None:
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.erased += counts.erased
        self.invalid_count += len(invalid)
        room = INVALID_SHOWN - len(self.invalid)
        if room > 0:
            self.invalid.extend(invalid[:room])

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.erased + self.invalid_count


def contact_limits(services: Services) -> RecipientLimits:
    """The limits of recipient variables and CSV files (``CAMPAIGND_MAX_*``) apply."""
    return recipient_limits(services.settings)


def address(email: str, name: str = "email") -> str:
    try:
        return normalise(email)
    except InvalidAddress as error:
        raise Invalid(f"{name}: '{email}' is not a valid address: {error}") from None


def checked_source(source: str | None) -> str | None:
    if source is None:
        return None
    if not source.strip() or len(source) > SOURCE_CHARACTERS or not source.isprintable():
        raise Invalid(
            f"source: 1 to {SOURCE_CHARACTERS} printable characters (like 'signup-form'), "
            f"not {source[:80]!r}"
        )
    return source.strip()


def check_count(count: int) -> None:
    if count > MAX_CONTACTS_PER_REQUEST:
        raise Invalid(
            f"contacts: {count} contacts, more than {MAX_CONTACTS_PER_REQUEST} per request; "
            "send them in several requests, or stream them as CSV or JSON Lines (text/csv, "
            "application/x-ndjson)"
        )


def contact_batch(
    items: Sequence[tuple[str, object, str | None]], limits: RecipientLimits
) -> ContactBatch:
    """A batch of ``(email, attributes, status)`` from a JSON request, rows numbered from 1.

    More than ``MAX_CONTACTS_PER_REQUEST`` contacts, or any attribute that breaks the rules
    (``domain.contacts``), refuses the whole request naming ``contacts[index]``.
    """
    check_count(len(items))
    batch = ContactBatch()
    for index, (email, attributes, status) in enumerate(items):
        try:
            checked = checked_attributes(attributes or {}, limits)
        except ContactError as error:
            raise Invalid(f"contacts[{index}].{error}") from None
        batch.add(IncomingRow(index + 1, email, checked, ContactStatus(status) if status else None))
    return batch


def _suppression_detail(principal: Principal) -> str:
    return f"contact status set by {principal.actor}"[:200]


async def _upsert(
    connection: AsyncConnection,
    services: Services,
    principal: Principal,
    organization_id: int,
    rows: Sequence[ContactInput],
    *,
    mode: Mode,
    source: str | None,
) -> UpsertCounts:
    try:
        return await contacts.upsert_contacts(
            connection,
            organization_id=organization_id,
            rows=rows,
            mode=mode,
            source=source,
            now=utcnow(),
            max_attributes=services.settings.max_vars_keys,
            suppression_detail=_suppression_detail(principal),
        )
    except TooManyAttributes as error:
        raise Invalid(f"attributes: {error}") from None


def _counts_detail(counts: UpsertCounts, invalid: int, **extra: Any) -> dict[str, Any]:
    return {
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "erased": counts.erased,
        "invalid": invalid,
        **extra,
    }


async def upsert_contacts(
    services: Services,
    principal: Principal,
    batch: ContactBatch,
    *,
    mode: Mode = Mode.MERGE,
    source: str | None = "api",
    organization: str | None = None,
) -> ContactReport:
    """Create or update contacts in one transaction (see ``store.contacts.upsert_contacts``):
    all of them are stored, or, when one is refused, none."""
    principal.require_change()
    source = checked_source(source)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        counts = await _upsert(
            connection,
            services,
            principal,
            organization_id,
            batch.contacts,
            mode=mode,
            source=source,
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="contact.upsert",
            organization_id=organization_id,
            detail=_counts_detail(counts, len(batch.invalid), mode=mode.value, source=source),
        )
    report = ContactReport(organization=slug)
    report.include(counts, batch.invalid)
    return report


@dataclass
class ContactImport:
    """A streamed import (CSV or JSON Lines of any size): each batch is stored in its own
    transaction as it is read, with its audit entry, so a file of millions never holds
    the database for long; ``report`` adds them up. Every batch is an idempotent upsert:
    an import that stopped can be sent again whole."""

    services: Services
    principal: Principal
    organization_id: int
    mode: Mode
    source: str | None
    report: ContactReport

    @classmethod
    async def open(
        cls,
        services: Services,
        principal: Principal,
        *,
        organization: str | None,
        mode: Mode = Mode.MERGE,
        source: str | None = "import",
    ) -> ContactImport:
        """Role and organization are checked before anything is read."""
        principal.require_change()
        checked = checked_source(source)
        async with services.database.connection() as connection:
            organization_id, slug = await organization_acted_on(connection, principal, organization)
        return cls(services, principal, organization_id, mode, checked, ContactReport(slug))

    async def write(self, batch: ContactBatch) -> None:
        async with self.services.database.transaction() as connection:
            counts = await _upsert(
                connection,
                self.services,
                self.principal,
                self.organization_id,
                batch.contacts,
                mode=self.mode,
                source=self.source,
            )
            await audit.record(
                connection,
                actor=self.principal.actor,
                action="contact.import",
                organization_id=self.organization_id,
                detail=_counts_detail(
                    counts,
                    len(batch.invalid),
                    mode=self.mode.value,
                    source=self.source,
                    through_row=batch.last_row,
                ),
            )
        self.report.include(counts, batch.invalid)


async def get_contact(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> tuple[str, Contact]:
    """The organization and its contact; another organization's is as missing as none."""
    normalised = address(email)
    async with services.database.connection() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        contact = await contacts.get_contact(
            connection, organization_id=organization_id, email=normalised
        )
    if contact is None:
        raise NotFound(f"no contact {normalised} in {slug}")
    return slug, contact


async def search_contacts(
    services: Services,
    principal: Principal,
    *,
    organization: str | None = None,
    contains: str | None = None,
    status: ContactStatus | None = None,
    cursor: str | None = None,
    limit: int = 100,
    list_name: str | None = None,
) -> tuple[str, list[Contact], str | None]:
    """The organization, a page of its contacts (address order), the next cursor;
    ``list_name``: only members of that list of the organization."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        list_id = None
        if list_name is not None:
            found = await get_list(
                connection, organization_id=organization_id, name=list_name, counted=False
            )
            if found is None:
                raise Invalid(f"list: no list '{list_name}' in {slug}")
            list_id = found.id
        rows = await contacts.search_contacts(
            connection,
            organization_id=organization_id,
            contains=contains,
            status=status,
            after_email=cursor,
            limit=limit + 1,
            list_id=list_id,
        )
    page = rows[:limit]
    return slug, page, (page[-1].email if len(rows) > limit else None)


async def contact_lists(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> list[Membership]:
    """The organization's lists the address is a member of, in any membership status."""
    normalised = address(email)
    async with services.database.connection() as connection:
        organization_id, _ = await organization_acted_on(connection, principal, organization)
        return await memberships(
            connection, organization_id=organization_id, email=normalised, statuses=MEMBER_STATUSES
        )


async def edit_contact(
    services: Services,
    principal: Principal,
    email: str,
    *,
    attributes: Mapping[str, object] | None = None,
    mode: Mode = Mode.MERGE,
    status: ContactStatus | None = None,
    organization: str | None = None,
) -> tuple[str, Contact]:
    """Change a stored contact's attributes (merged or replaced) and status; a status that
    is not ``subscribed`` puts the address on the suppression list, ``subscribed`` takes it
    off."""
    principal.require_change()
    normalised = address(email)
    try:
        checked = (
            checked_attributes(attributes, contact_limits(services))
            if attributes is not None
            else None
        )
    except ContactError as error:
        raise Invalid(str(error)) from None
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        if (
            await contacts.get_contact(
                connection, organization_id=organization_id, email=normalised
            )
            is None
        ):
            raise NotFound(f"no contact {normalised} in {slug}")
        if checked is not None or status is not None:
            row = ContactInput(normalised, checked if checked is not None else {}, status)
            row_mode = mode if checked is not None else Mode.MERGE
            await _upsert(
                connection, services, principal, organization_id, [row], mode=row_mode, source=None
            )
        await audit.record(
            connection,
            actor=principal.actor,
            action="contact.edit",
            organization_id=organization_id,
            detail={
                "email": normalised,
                "attributes": sorted(checked or {}),
                "mode": mode.value,
                "status": status.value if status else None,
            },
        )
        contact = await contacts.get_contact(
            connection, organization_id=organization_id, email=normalised
        )
    assert contact is not None
    return slug, contact


async def delete_contact(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> str:
    """Delete a contact and its list memberships; a suppression of the address stays (to
    forget the address altogether, erase it)."""
    principal.require_change()
    normalised = address(email)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        if not await contacts.delete_contact(
            connection, organization_id=organization_id, email=normalised
        ):
            raise NotFound(f"no contact {normalised} in {slug}")
        await audit.record(
            connection,
            actor=principal.actor,
            action="contact.delete",
            organization_id=organization_id,
            detail={"email": normalised},
        )
    return slug


def _require_admin(principal: Principal) -> None:
    if principal.role is Role.VIEWER:
        raise Forbidden("viewers cannot export or erase personal data; an admin can")


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _document(
    slug: str, email: str, record: erasure.AddressRecord, now: datetime
) -> dict[str, Any]:
    """The export as JSON, with the API's field names (the CLI prints the same)."""
    contact = record.contact
    return {
        "organization": slug,
        "email": email,
        "exportedAt": _time(now),
        "erasedAt": _time(record.erased_at),
        "contact": None
        if contact is None
        else {
            "email": contact["email"],
            "attributes": contact["attributes"],
            "status": contact["status"],
            "source": contact["source"],
            "createdAt": _time(contact["created_at"]),
            "updatedAt": _time(contact["updated_at"]),
        },
        "lists": [
            {
                "name": row["name"],
                "status": row["status"],
                "confirmationSentAt": _time(row["confirmation_sent_at"]),
                "createdAt": _time(row["created_at"]),
                "updatedAt": _time(row["updated_at"]),
            }
            for row in record.lists
        ],
        "suppression": None
        if record.suppression is None
        else {
            "reason": record.suppression["reason"],
            "detail": record.suppression["detail"],
            "createdAt": _time(record.suppression["created_at"]),
        },
        "deliveries": [
            {
                "campaignId": row["campaign_id"],
                "campaign": row["campaign"],
                "campaignStatus": row["campaign_status"],
                "status": row["status"],
                "code": row["code"],
                "reason": row["reason"],
                "attempts": row["attempts"],
                "sentAt": _time(row["sent_at"]),
                "vars": row["variables"],
                "serverReply": row["server_reply"],
                "lastError": row["last_error"],
            }
            for row in record.deliveries
        ],
        "cooldown": [
            {
                "scope": row["scope"],
                "campaignId": row["campaign_id"],
                "campaign": row["campaign_name"],
                "contactedAt": _time(row["contacted_at"]),
            }
            for row in record.cooldown
        ],
        "auditLog": [
            {
                "at": _time(row["at"]),
                "actor": row["actor"],
                "action": row["action"],
                "detail": row["detail"],
            }
            for row in record.audit
        ],
    }


async def export_contact(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> dict[str, Any]:
    """Everything the organization stores about ``email``, as one JSON document (an
    address it holds nothing about gets an empty one). Audited as ``contact.export``."""
    _require_admin(principal)
    normalised = address(email)
    now = utcnow()
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        record = await erasure.export_address(
            connection, organization_id=organization_id, email=normalised
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="contact.export",
            organization_id=organization_id,
            detail={"email": normalised},
        )
    return _document(slug, normalised, record, now)


@dataclass(frozen=True)
class Erased:
    organization: str
    email: str
    erasure: erasure.Erasure


async def erase_contact(
    services: Services, principal: Principal, email: str, *, organization: str | None = None
) -> Erased:
    """Erase the address from the organization for good (``store.erasure``), in one
    transaction; the audit entry (``contact.erase``) names only what was removed."""
    _require_admin(principal)
    normalised = address(email)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_acted_on(connection, principal, organization)
        result = await erasure.erase_address(
            connection, organization_id=organization_id, email=normalised, now=utcnow()
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="contact.erase",
            organization_id=organization_id,
            detail={
                "placeholder": result.placeholder,
                "contact": result.contact,
                "memberships": result.memberships,
                "suppression": result.suppression,
                "deliveries": result.deliveries,
                "skipped": result.skipped,
                "cooldownEntries": result.cooldown_entries,
                "mentions": result.mentions,
                "already": result.already,
            },
        )
    return Erased(organization=slug, email=normalised, erasure=result)
