"""Statements on an organization's contacts: bulk upsert, read, search, delete.

The upsert is one ``INSERT ... SELECT ... ON CONFLICT (organization_id, email) DO UPDATE``
per slice of up to ``STATEMENT_ROWS`` contacts: the slice travels as one JSON parameter,
expanded in the database (``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite).
Merging is the database's own (``jsonb_strip_nulls(old || new)`` on PostgreSQL,
``json_patch(old, new)`` on SQLite: a null takes an attribute away). The update is
conditional, so a contact that would not change is not written, and ``RETURNING`` tells
created from updated rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import AttributeValue, ContactInput, Mode
from campaignd.store.columns import Identifier, UtcDateTime
from campaignd.store.contact_status import (
    chunked,
    one_of,
    status_of_reason,
    suppressions_follow_contacts,
)
from campaignd.store.dialect import upsert
from campaignd.store.erasure import erased_among
from campaignd.store.schema import contacts, list_members, suppressions

STATEMENT_ROWS = 5_000
COLUMNS = ["organization_id", "email", "attributes", "status", "source", "created_at", "updated_at"]
SUBSCRIBED = ContactStatus.SUBSCRIBED.value


@dataclass(frozen=True)
class Contact:
    email: str
    attributes: dict[str, AttributeValue]
    status: ContactStatus
    source: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did, per row sent: ``erased`` rows name an erased address and were
    skipped."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    erased: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            created=self.created + other.created,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            erased=self.erased + other.erased,
        )


class TooManyAttributes(ValueError):
    """Merging would leave a contact with more attributes than allowed (nothing is kept)."""

    def __init__(self, email: str, limit: int) -> None:
        super().__init__(
            f"{email}: merging would leave the contact with more than {limit} attributes, "
            "the limit per contact (replace them, or send null to take some away)"
        )
        self.email = email


def _contact(row: Any) -> Contact:
    return Contact(
        email=str(row.email),
        attributes=dict(row.attributes or {}),
        status=ContactStatus(row.status),
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _rounds(rows: Sequence[ContactInput]) -> list[list[ContactInput]]:
    """Rows split so that no address appears twice in one round (one statement may not
    change a row twice); the rounds are applied in order, as the rows were sent."""
    rounds: list[list[ContactInput]] = []
    seen: dict[str, int] = {}
    for row in rows:
        number = seen.get(row.email, 0)
        seen[row.email] = number + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(row)
    return rounds


def _incoming(
    dialect: str,
    payload: str,
    *,
    organization_id: int,
    source: str | None,
    now: datetime,
    status_given: bool,
) -> Select[*tuple[Any, ...]]:
    """The rows of ``payload`` (a JSON array of ``{email, attributes, status}``) as the
    columns of ``contacts``. Without ``status_given`` a row's status is that of its
    address's suppression, ``subscribed`` without one (it is stored only for a new
    contact: a stored one keeps its own)."""
    parameter = bindparam("payload", payload, type_=Text)
    if dialect == "postgresql":
        records = (
            func.jsonb_to_recordset(cast(parameter, JSONB))
            .table_valued(
                column("email", Text), column("attributes", JSONB), column("status", Text)
            )
            .render_derived(name="incoming", with_types=True)
        )
        source_rows: Any = records
        email: ColumnElement[Any] = records.c.email
        attributes: ColumnElement[Any] = records.c.attributes
        status: ColumnElement[Any] = records.c.status
    else:
        each = func.json_each(parameter).table_valued("value")
        source_rows = each
        email = func.json_extract(each.c.value, "$.email")
        attributes = func.json_extract(each.c.value, "$.attributes")
        status = func.json_extract(each.c.value, "$.status")
    if not status_given:
        source_rows = source_rows.outerjoin(
            suppressions,
            and_(suppressions.c.organization_id == organization_id, suppressions.c.email == email),
        )
        status = status_of_reason(suppressions.c.reason, otherwise=SUBSCRIBED)
    return (
        select(
            literal(organization_id, Identifier),
            email,
            attributes,
            status,
            literal(source, Text),
            literal(now, UtcDateTime()),
            literal(now, UtcDateTime()),
        )
        .select_from(source_rows)
        .where(true())  # SQLite: an INSERT ... SELECT with ON CONFLICT needs a WHERE
    )


def _merged(dialect: str, stored: Any, sent: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.jsonb_strip_nulls(stored.op("||")(sent))
    return func.json_patch(stored, sent)


def _differs(dialect: str, new: Any, stored: Any) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return new.is_distinct_from(stored)  # type: ignore[no-any-return]
    return func.json(new) != func.json(stored)


def _without_nulls(dialect: str, stored: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.jsonb_strip_nulls(stored)
    return func.json_patch(literal("{}"), stored)


def _attribute_count(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return literal_column("(SELECT count(*) FROM jsonb_object_keys(contacts.attributes))")
    return literal_column("(SELECT count(*) FROM json_each(contacts.attributes))")


async def _upsert_statement(
    connection: AsyncConnection,
    rows: Sequence[ContactInput],
    *,
    organization_id: int,
    mode: Mode,
    source: str | None,
    now: datetime,
    status_given: bool,
    max_attributes: int | None,
) -> UpsertCounts:
    dialect = connection.dialect.name
    merging = mode is Mode.MERGE
    payload = json.dumps(
        [
            {
                "email": row.email,
                "attributes": row.attributes
                if merging
                else {name: value for name, value in row.attributes.items() if value is not None},
                "status": row.status,
            }
            for row in rows
        ]
    )
    source_rows = _incoming(
        dialect,
        payload,
        organization_id=organization_id,
        source=source,
        now=now,
        status_given=status_given,
    )
    statement = upsert(dialect, contacts).from_select(COLUMNS, source_rows)
    sent = statement.excluded
    stored = contacts.c.attributes
    attributes = _merged(dialect, stored, sent.attributes) if merging else sent.attributes
    values: dict[str, Any] = {"attributes": attributes, "updated_at": sent.updated_at}
    changed = _differs(dialect, attributes, stored)
    if status_given:
        values["status"] = sent.status
        changed = or_(changed, contacts.c.status != sent.status)
    statement = statement.on_conflict_do_update(
        index_elements=["organization_id", "email"], set_=values, where=changed
    )
    counting = merging and max_attributes is not None
    returned: list[ColumnElement[Any]] = [contacts.c.email, contacts.c.created_at]
    if counting:
        returned.append(_attribute_count(dialect))
    written = (await connection.execute(statement.returning(*returned))).all()
    if counting:
        assert max_attributes is not None
        crowded = [row[0] for row in written if row[2] > max_attributes]
        if crowded:
            raise TooManyAttributes(str(crowded[0]), max_attributes)
    created = sum(1 for row in written if row[1] == now)
    return UpsertCounts(
        created=created, updated=len(written) - created, unchanged=len(rows) - len(written)
    )


async def _upsert_slice(
    connection: AsyncConnection,
    rows: Sequence[ContactInput],
    *,
    organization_id: int,
    mode: Mode,
    source: str | None,
    now: datetime,
    max_attributes: int | None,
    suppression_detail: str | None,
) -> UpsertCounts:
    """Up to ``STATEMENT_ROWS`` rows, each address once: the rows without a status keep a
    stored contact's (a new one takes its suppression's), those with one set it (and the
    suppression list follows)."""
    dialect = connection.dialect.name
    keeping = [row for row in rows if row.status is None]
    setting = [row for row in rows if row.status is not None]
    counts = UpsertCounts()
    for group, status_given in ((keeping, False), (setting, True)):
        if group:
            counts += await _upsert_statement(
                connection,
                group,
                organization_id=organization_id,
                mode=mode,
                source=source,
                now=now,
                status_given=status_given,
                max_attributes=max_attributes,
            )
    if setting:
        await suppressions_follow_contacts(
            connection,
            organization_id=organization_id,
            emails=[row.email for row in setting],
            now=now,
            detail=suppression_detail,
        )
    if mode is Mode.MERGE:
        with_nulls = [row.email for row in rows if None in row.attributes.values()]
        if with_nulls:  # a new contact was inserted with them: stored contacts hold none
            await connection.execute(
                update(contacts)
                .where(
                    contacts.c.organization_id == organization_id,
                    contacts.c.email.in_(one_of(dialect, with_nulls)),
                )
                .values(attributes=_without_nulls(dialect, contacts.c.attributes))
            )
    return counts


async def upsert_contacts(
    connection: AsyncConnection,
    *,
    organization_id: int,
    rows: Sequence[ContactInput],
    mode: Mode,
    source: str | None,
    now: datetime,
    max_attributes: int | None = None,
    suppression_detail: str | None = None,
) -> UpsertCounts:
    """Create or update the organization's contacts of ``rows``, in the order sent.

    New contacts get ``source`` and, without a status, ``subscribed``, or the status of
    their suppression when the address is on the list; a stored contact keeps its source,
    and its status unless the row sets one. A status set on a row puts the address on the
    suppression list (or takes it off, ``subscribed``), with ``suppression_detail``.
    Addresses that were erased are skipped and counted. ``max_attributes``: merging may
    not leave a contact with more (``TooManyAttributes``, the caller rolls back).
    """
    erased = await erased_among(connection, organization_id, [row.email for row in rows])
    kept = [row for row in rows if row.email not in erased] if erased else list(rows)
    counts = UpsertCounts(erased=len(rows) - len(kept))
    for number, round_rows in enumerate(_rounds(kept)):
        # a later round's own time tells its updates from the rows an earlier one created
        moment = now + timedelta(microseconds=number)
        for part in chunked(round_rows, STATEMENT_ROWS):
            counts += await _upsert_slice(
                connection,
                part,
                organization_id=organization_id,
                mode=mode,
                source=source,
                now=moment,
                max_attributes=max_attributes,
                suppression_detail=suppression_detail,
            )
    return counts


async def get_contact(
    connection: AsyncConnection, *, organization_id: int, email: str
) -> Contact | None:
    statement = select(contacts).where(
        contacts.c.organization_id == organization_id, contacts.c.email == email
    )
    row = (await connection.execute(statement)).first()
    return None if row is None else _contact(row)


async def search_contacts(
    connection: AsyncConnection,
    *,
    organization_id: int,
    contains: str | None = None,
    status: ContactStatus | None = None,
    after_email: str | None = None,
    limit: int = 100,
    list_id: int | None = None,
) -> list[Contact]:
    """In address order; ``contains``: part of the address (any case); ``after_email`` is
    the cursor (the last address of the previous page); ``list_id``: only members of that
    list (any membership status)."""
    conditions = [contacts.c.organization_id == organization_id]
    if list_id is not None:
        conditions.append(
            exists().where(
                list_members.c.contact_id == contacts.c.id, list_members.c.list_id == list_id
            )
        )
    if contains:
        conditions.append(contacts.c.email.contains(contains.lower(), autoescape=True))
    if status is not None:
        conditions.append(contacts.c.status == status.value)
    if after_email is not None:
        conditions.append(contacts.c.email > after_email)
    statement = select(contacts).where(*conditions).order_by(contacts.c.email).limit(limit)
    return [_contact(row) for row in await connection.execute(statement)]


async def delete_contact(connection: AsyncConnection, *, organization_id: int, email: str) -> bool:
    """Delete a contact and its list memberships; its suppression, if any, stays."""
    statement = delete(contacts).where(
        contacts.c.organization_id == organization_id, contacts.c.email == email
    )
    return bool((await connection.execute(statement)).rowcount)
