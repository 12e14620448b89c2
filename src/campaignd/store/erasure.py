"""Everything an organization stores about one address: exported, or erased for good.

Erasing keeps only a keyed hash of the address (HMAC-SHA256 with the instance secret
``erasure``, made on the first erasure) in ``erased_addresses``. The hash is what keeps the
address out afterwards: contacts and campaign recipients are checked against it as they are
added, so it is never stored again, and therefore never mailed. The check costs one indexed
look-up per statement for an organization that never erased anyone, and one hash per
address for one that did.

What erasing does in the organization (one transaction):

- the contact goes, with its list memberships; so does the address's suppression entry
  (the hash does its work from now on);
- deliveries of the address still to be sent are skipped (a worker that holds one loses
  its lease and never sends it) and their cooldown reservations given back;
- every delivery of the address keeps its outcome (status, code, time sent: the campaign's
  figures stay right) but its address becomes ``erased-<hash>@erased.invalid`` and its
  variables, server reply and last error are cleared (its reason too, if it names it);
- cooldown ledger entries: the organization's own scope (``COOLDOWN_SCOPE=organization``)
  are deleted; an entry of the global scope stays, since it keeps the instance-wide
  promise to this person (no second campaign within the cooldown, whichever organization
  sends it), but it no longer says that it was this organization's campaign;
- bounce and complaint records (``feedback_events``) of the address keep their kind and
  time, with the placeholder for the address;
- webhook messages (``webhook_messages``: the JSON payload and the last error) and the
  errors of their attempts that mention the address have it replaced by the placeholder,
  whatever their status: one still pending is delivered all the same (the application
  hears of the event, with its id), with the placeholder in place of the address;
- import reports, audit entries, campaign status reasons and run errors that mention the
  address have it replaced by the placeholder.

Opens and clicks (``tracking_events``) never held the address (only the delivery's id):
they stay, so the campaign's report stays right, and now belong to the placeholder.

What was handed to the mail transport (outbox files, the SMTP server's logs) or posted to
a webhook endpoint (including a message on the wire as the erasure commits) is beyond it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import delete as delete_rows
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from campaignd.domain.lifecycle import DeliveryStatus, SkipCode
from campaignd.store.contact_status import chunked, one_of
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.ledger import GLOBAL_SCOPE, restore_taken
from campaignd.store.rows import Row, every, first
from campaignd.store.runs import refresh_run_counts
from campaignd.store.schema import (
    audit_log,
    campaigns,
    contacts,
    cooldown_ledger,
    deliveries,
    erased_addresses,
    feedback_events,
    import_reports,
    instance_secrets,
    ledger_entries,
    list_members,
    lists,
    runs,
    suppressions,
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)
from campaignd.store.waiting import shown_status

ERASURE_SECRET = "erasure"
HASHES_PER_STATEMENT = 10_000
ERASED_REASON = "erased on request"
STILL_TO_SEND = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
AUDIT_ENTRIES_EXPORTED = 1_000


def address_hash(key: bytes, email: str) -> str:
    """HMAC-SHA256 of a normalised address, in hex (64 characters)."""
    return hmac.new(key, email.encode("utf-8"), hashlib.sha256).hexdigest()


def placeholder(digest: str) -> str:
    """What an erased address becomes in the rows that stay: never deliverable
    (``.invalid`` is reserved) and different for each address of a campaign."""
    return f"erased-{digest[:16]}@erased.invalid"


async def erasure_key(connection: AsyncConnection, *, create: bool = False) -> bytes | None:
    """The instance's erasure key; with ``create``, made on first use (first writer wins)."""
    query = select(instance_secrets.c.value).where(instance_secrets.c.name == ERASURE_SECRET)
    stored = await connection.scalar(query)
    if stored is None and create:
        statement = insert_ignoring_conflicts(
            connection.dialect.name, instance_secrets, ["name"]
        ).values(name=ERASURE_SECRET, value=secrets.token_urlsafe(48))
        await connection.execute(statement)
        stored = await connection.scalar(query)
    return None if stored is None else str(stored).encode("utf-8")


def erasure_lock_key(organization_id: int) -> int:
    """A stable signed 64-bit key for the organization's erasure lock (PostgreSQL)."""
    digest = hashlib.blake2b(f"campaignd erasure {organization_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def lock_against_erasure(
    connection: AsyncConnection, organization_id: int, *, exclusive: bool
) -> None:
    """PostgreSQL: erasing takes the organization's erasure lock alone, adding addresses
    takes it shared, until their transactions end. Without it an import that checked the
    erased hashes just before an erasure committed could store the address just after
    (READ COMMITTED). SQLite needs none: one writer transaction at a time already."""
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await connection.execute(
        text(f"SELECT {function}(:key)"), {"key": erasure_lock_key(organization_id)}
    )


async def has_erased(connection: AsyncConnection, organization_id: int) -> bool:
    """Whether the organization ever erased an address (one look-up in the primary key).

    Every path that stores addresses asks this first; on PostgreSQL it also takes the
    erasure lock shared (``lock_against_erasure``), so an erasure of the organization
    either commits before the answer is read or waits until the caller's transaction ends
    (and then erases what it stored)."""
    await lock_against_erasure(connection, organization_id, exclusive=False)
    anything = await connection.scalar(
        select(erased_addresses.c.address_hash)
        .where(erased_addresses.c.organization_id == organization_id)
        .limit(1)
    )
    return anything is not None


async def _erased_hasher(
    connection: AsyncConnection, organization_id: int
) -> Callable[[str], str] | None:
    """A function hashing addresses as erasures do, or None when the organization never
    erased an address (then nothing needs hashing)."""
    if not await has_erased(connection, organization_id):
        return None
    key = await erasure_key(connection)
    if key is None:  # the secret was deleted by hand: nothing can match any more
        return None
    return lambda email: address_hash(key, email)


async def erased_among(
    connection: AsyncConnection, organization_id: int, emails: Sequence[str]
) -> set[str]:
    """Which of the normalised ``emails`` the organization erased."""
    if not emails:
        return set()
    hasher = await _erased_hasher(connection, organization_id)
    if hasher is None:
        return set()
    by_hash = {hasher(email): email for email in dict.fromkeys(emails)}
    found: set[str] = set()
    for part in chunked(list(by_hash), HASHES_PER_STATEMENT):
        statement = select(erased_addresses.c.address_hash).where(
            erased_addresses.c.organization_id == organization_id,
            erased_addresses.c.address_hash.in_(one_of(connection.dialect.name, part)),
        )
        found.update(by_hash[str(value)] for value in await connection.scalars(statement))
    return found


async def erased_at(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> datetime | None:
    """When the organization erased ``email``, or None."""
    hasher = await _erased_hasher(connection, organization_id)
    if hasher is None:
        return None
    value: datetime | None = await connection.scalar(
        select(erased_addresses.c.erased_at).where(
            erased_addresses.c.organization_id == organization_id,
            erased_addresses.c.address_hash == hasher(email),
        )
    )
    return value


def _mentions(text: ColumnElement[Any], email: str) -> ColumnElement[bool]:
    """``text`` holds the address, as written or as JSON escapes it (any case)."""
    escaped = json.dumps(email)[1:-1]
    found = text.icontains(email, autoescape=True)
    if escaped != email:
        found = or_(found, text.icontains(escaped, autoescape=True))
    return found


LOCAL_PART_CHARACTER = r"[\w.!#$%&'*+/=?^`{|}~-]"


def address_pattern(email: str) -> re.Pattern[str]:
    """The address in any case, and not as the tail of a longer address
    (``ada@example.com`` in ``linda@example.com``) or the head of a longer domain
    (``ada@example.com.au``)."""
    return re.compile(
        rf"(?<!{LOCAL_PART_CHARACTER}){re.escape(email)}(?![\w-]|\.\w)", re.IGNORECASE
    )


def _scrubbed(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    """``value`` (JSON) with every mention of the address replaced."""
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [_scrubbed(item, pattern, replacement) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, pattern, replacement) for key, item in value.items()}
    return value


def _scrubbed_json_text(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    """``value``, JSON kept as text (a webhook payload), with every mention replaced: read
    as JSON, so that an address JSON escapes (``\\u00e9``) is found too."""
    if not isinstance(value, str):
        return _scrubbed(value, pattern, replacement)
    try:
        document = json.loads(value)
    except ValueError:
        return pattern.sub(replacement, value)
    return json.dumps(_scrubbed(document, pattern, replacement), separators=(",", ":"))


async def _scrub(
    connection: AsyncConnection,
    table: Table,
    columns: Sequence[Column[Any]],
    condition: ColumnElement[bool],
    email: str,
    replacement: str,
    *,
    json_text: Sequence[Column[Any]] = (),
) -> int:
    """Replace the address in ``columns`` of the rows that mention it (read, rewritten,
    written back by id in one statement); returns how many rows changed. ``json_text``:
    those of ``columns`` that hold JSON as text."""
    key = table.c.id
    mentions = or_(*(_mentions(cast(item, Text), email) for item in columns))
    rows = (await connection.execute(select(key, *columns).where(condition, mentions))).all()
    if not rows:
        return 0
    pattern = address_pattern(email)
    as_json = {item.name for item in json_text}
    changes = []
    for row in rows:
        old = {item.name: row[index + 1] for index, item in enumerate(columns)}
        new = {
            name: (_scrubbed_json_text if name in as_json else _scrubbed)(
                value, pattern, replacement
            )
            for name, value in old.items()
        }
        if new != old:
            changes.append({"row_id": row[0]} | {f"new_{name}": new[name] for name in new})
    if not changes:
        return 0
    statement = (
        update(table)
        .where(key == bindparam("row_id"))
        .values({item.name: bindparam(f"new_{item.name}", type_=item.type) for item in columns})
    )
    await connection.execute(statement, changes)
    return len(changes)


@dataclass(frozen=True)
class Erasure:
    """What erasing removed or rewrote, by kind: ``skipped`` deliveries were still to be
    sent; ``mentions``: rows of bounce and complaint records, webhook messages and attempts,
    import reports, the audit log, campaigns and runs that named the address. ``already``
    when it was erased before."""

    placeholder: str
    contact: int
    memberships: int
    suppression: int
    deliveries: int
    skipped: int
    cooldown_entries: int
    mentions: int
    already: bool


async def erase_address(
    connection: AsyncConnection, *, organization_id: int, email: str, now: datetime
) -> Erasure:
    """Erase the normalised ``email`` from the organization (see the module's docstring).

    Repeating it is harmless. Must run in a writer transaction.
    """
    await lock_against_erasure(connection, organization_id, exclusive=True)
    key = await erasure_key(connection, create=True)
    assert key is not None
    digest = address_hash(key, email)
    replacement = placeholder(digest)
    own_campaigns = select(campaigns.c.id).where(campaigns.c.organization_id == organization_id)
    contact_ids = select(contacts.c.id).where(
        contacts.c.organization_id == organization_id, contacts.c.email == email
    )
    memberships = int(
        await connection.scalar(
            select(func.count()).where(list_members.c.contact_id.in_(contact_ids))
        )
        or 0
    )
    contact = (
        await connection.execute(
            delete_rows(contacts).where(
                contacts.c.organization_id == organization_id, contacts.c.email == email
            )
        )
    ).rowcount
    suppression = (
        await connection.execute(
            delete_rows(suppressions).where(
                suppressions.c.organization_id == organization_id, suppressions.c.email == email
            )
        )
    ).rowcount
    of_address = and_(deliveries.c.campaign_id.in_(own_campaigns), deliveries.c.email == email)
    skipped_campaigns = sorted(
        {
            int(value)
            for value in await connection.scalars(
                update(deliveries)
                .where(of_address, deliveries.c.status.in_(STILL_TO_SEND))
                .values(
                    status=DeliveryStatus.SKIPPED.value,
                    code=SkipCode.SUPPRESSED.value,
                    reason=ERASED_REASON,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                )
                .returning(deliveries.c.campaign_id)
            )
        }
    )
    await _give_back(connection, organization_id, email, skipped_campaigns)
    rewritten = (
        await connection.execute(
            update(deliveries)
            .where(of_address)
            .values(
                email=replacement,
                variables=None,
                server_reply=None,
                last_error=None,
                reason=case(
                    (_mentions(deliveries.c.reason, email), None), else_=deliveries.c.reason
                ),
            )
        )
    ).rowcount
    for campaign_id in skipped_campaigns:
        await refresh_run_counts(connection, campaign_id)
    entries = await _forget_cooldown(connection, organization_id, email, own_campaigns)
    feedback = (
        await connection.execute(
            update(feedback_events)
            .where(
                feedback_events.c.organization_id == organization_id,
                feedback_events.c.email == email,
            )
            .values(email=replacement)
        )
    ).rowcount
    mentions = int(feedback) + await _scrub_webhooks(
        connection, organization_id, email, replacement
    )
    for table, columns, condition in (
        (
            feedback_events,
            [feedback_events.c.detail],
            feedback_events.c.organization_id == organization_id,
        ),
        (
            import_reports,
            [import_reports.c.invalid],
            import_reports.c.campaign_id.in_(own_campaigns),
        ),
        (
            audit_log,
            [audit_log.c.detail, audit_log.c.target],
            audit_log.c.organization_id == organization_id,
        ),
        (campaigns, [campaigns.c.status_reason], campaigns.c.organization_id == organization_id),
        (runs, [runs.c.error], runs.c.organization_id == organization_id),
    ):
        mentions += await _scrub(connection, table, columns, condition, email, replacement)
    recorded = (
        insert_ignoring_conflicts(
            connection.dialect.name, erased_addresses, ["organization_id", "address_hash"]
        )
        .values(organization_id=organization_id, address_hash=digest, erased_at=now)
        .returning(erased_addresses.c.address_hash)
    )
    already = (await connection.execute(recorded)).first() is None
    return Erasure(
        placeholder=replacement,
        contact=contact,
        memberships=memberships,
        suppression=suppression,
        deliveries=rewritten,
        skipped=len(skipped_campaigns),
        cooldown_entries=entries,
        mentions=mentions,
        already=already,
    )


async def _scrub_webhooks(
    connection: AsyncConnection, organization_id: int, email: str, replacement: str
) -> int:
    """The organization's webhook messages (payload, last error) and attempts (error) with
    the address replaced; how many rows changed."""
    endpoints = select(webhook_endpoints.c.id).where(
        webhook_endpoints.c.organization_id == organization_id
    )
    messages = await _scrub(
        connection,
        webhook_messages,
        [webhook_messages.c.payload, webhook_messages.c.last_error],
        webhook_messages.c.organization_id == organization_id,
        email,
        replacement,
        json_text=[webhook_messages.c.payload],
    )
    attempts = await _scrub(
        connection,
        webhook_attempts,
        [webhook_attempts.c.error],
        webhook_attempts.c.endpoint_id.in_(endpoints),
        email,
        replacement,
    )
    return messages + attempts


async def _give_back(
    connection: AsyncConnection, organization_id: int, email: str, campaign_ids: list[int]
) -> None:
    """The reservations of deliveries skipped before they were sent go back to the entries
    they replaced (as ``store.ledger.give_back_reservations``, for one address)."""
    if not campaign_ids:
        return
    await restore_taken(
        connection,
        entries=and_(
            ledger_entries.c.scope.in_([GLOBAL_SCOPE, organization_id]),
            ledger_entries.c.email == email,
            ledger_entries.c.campaign_id.in_(campaign_ids),
        ),
        reserved=and_(
            cooldown_ledger.c.scope.in_([GLOBAL_SCOPE, organization_id]),
            cooldown_ledger.c.email == email,
            cooldown_ledger.c.campaign_id.in_(campaign_ids),
        ),
    )


async def _forget_cooldown(
    connection: AsyncConnection, organization_id: int, email: str, own_campaigns: Any
) -> int:
    """Delete the organization scope's entry; strip the global one of this organization's
    campaigns (the time stays, so the cooldown still holds for everyone). The same for the
    entries per message (``ledger_entries``); those of the organization's categories, which
    count for nobody else, are deleted."""
    await connection.execute(
        delete_rows(ledger_entries).where(
            ledger_entries.c.email == email,
            or_(
                ledger_entries.c.scope == organization_id,
                and_(
                    ledger_entries.c.organization_id == organization_id,
                    ledger_entries.c.category.is_not(None),
                ),
            ),
        )
    )
    await connection.execute(
        update(ledger_entries)
        .where(
            ledger_entries.c.scope == GLOBAL_SCOPE,
            ledger_entries.c.email == email,
            ledger_entries.c.campaign_id.in_(own_campaigns),
        )
        .values(campaign_name=None, organization_id=None)
    )
    removed = (
        await connection.execute(
            delete_rows(cooldown_ledger).where(
                cooldown_ledger.c.scope == organization_id, cooldown_ledger.c.email == email
            )
        )
    ).rowcount
    in_global = and_(cooldown_ledger.c.scope == GLOBAL_SCOPE, cooldown_ledger.c.email == email)
    current = (
        await connection.execute(
            update(cooldown_ledger)
            .where(in_global, cooldown_ledger.c.campaign_id.in_(own_campaigns))
            .values(campaign_id=None, campaign_name=None)
        )
    ).rowcount
    previous = (
        await connection.execute(
            update(cooldown_ledger)
            .where(in_global, cooldown_ledger.c.previous_campaign_id.in_(own_campaigns))
            .values(previous_campaign_id=None, previous_campaign_name=None)
        )
    ).rowcount
    return int(removed) + int(current) + int(previous)


@dataclass(frozen=True)
class AddressRecord:
    """Everything one organization stores about one address."""

    contact: Row | None
    lists: list[Row]
    suppression: Row | None
    deliveries: list[Row]
    cooldown: list[Row]
    audit: list[Row]
    erased_at: datetime | None


async def export_address(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> AddressRecord:
    """The contact, its lists, its suppression, its deliveries (with their campaigns), the
    cooldown entries of this organization's campaigns and the audit entries naming it."""
    contact = first(
        await connection.execute(
            select(contacts).where(
                contacts.c.organization_id == organization_id, contacts.c.email == email
            )
        )
    )
    memberships: list[Row] = []
    if contact is not None:
        memberships = every(
            await connection.execute(
                select(
                    lists.c.name,
                    list_members.c.status,
                    list_members.c.confirmation_sent_at,
                    list_members.c.created_at,
                    list_members.c.updated_at,
                )
                .select_from(list_members.join(lists, lists.c.id == list_members.c.list_id))
                .where(list_members.c.contact_id == contact["id"])
                .order_by(lists.c.name)
            )
        )
    suppression = first(
        await connection.execute(
            select(suppressions.c.reason, suppressions.c.detail, suppressions.c.created_at).where(
                suppressions.c.organization_id == organization_id, suppressions.c.email == email
            )
        )
    )
    delivered = every(
        await connection.execute(
            select(
                campaigns.c.id.label("campaign_id"),
                campaigns.c.name.label("campaign"),
                campaigns.c.status.label("campaign_status"),
                campaigns.c.fanned_out_at,
                deliveries.c.status,
                deliveries.c.code,
                deliveries.c.reason,
                deliveries.c.attempts,
                deliveries.c.sent_at,
                deliveries.c.variables,
                deliveries.c.server_reply,
                deliveries.c.last_error,
            )
            .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
            .where(campaigns.c.organization_id == organization_id, deliveries.c.email == email)
            .order_by(deliveries.c.id)
        )
    )
    for row in delivered:
        fanned_out = row.pop("fanned_out_at") is not None
        row["status"] = shown_status(str(row["status"]), fanned_out=fanned_out)
    own_campaigns = select(campaigns.c.id).where(campaigns.c.organization_id == organization_id)
    cooldown = every(
        await connection.execute(
            select(
                cooldown_ledger.c.scope,
                cooldown_ledger.c.campaign_id,
                cooldown_ledger.c.campaign_name,
                cooldown_ledger.c.contacted_at,
            ).where(
                cooldown_ledger.c.email == email,
                or_(
                    cooldown_ledger.c.scope == organization_id,
                    and_(
                        cooldown_ledger.c.scope == GLOBAL_SCOPE,
                        cooldown_ledger.c.campaign_id.in_(own_campaigns),
                    ),
                ),
            )
        )
    )
    for row in cooldown:
        row["scope"] = "global" if row["scope"] == GLOBAL_SCOPE else "organization"
    audit = every(
        await connection.execute(
            select(audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.detail)
            .where(
                audit_log.c.organization_id == organization_id,
                _mentions(cast(audit_log.c.detail, Text), email),
            )
            .order_by(audit_log.c.id.desc())
            .limit(AUDIT_ENTRIES_EXPORTED)
        )
    )
    audit.reverse()  # the latest entries, oldest first
    if contact is not None:
        contact.pop("id", None)
        contact.pop("organization_id", None)
    return AddressRecord(
        contact=contact,
        lists=memberships,
        suppression=suppression,
        deliveries=delivered,
        cooldown=cooldown,
        audit=audit,
        erased_at=await erased_at(connection, organization_id=organization_id, email=email),
    )
