"""Statements on an organization's DKIM keys (one per sending domain and selector)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.schema import dkim_keys

PUBLIC_COLUMNS = (
    dkim_keys.c.id,
    dkim_keys.c.organization_id,
    dkim_keys.c.domain,
    dkim_keys.c.selector,
    dkim_keys.c.algorithm,
    dkim_keys.c.public_key,
    dkim_keys.c.created_at,
)


@dataclass(frozen=True)
class DkimKey:
    """A key as it may be shown: everything but the private half."""

    id: int
    organization_id: int
    domain: str
    selector: str
    algorithm: str
    public_key: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> DkimKey:
        return cls(
            id=int(row.id),
            organization_id=int(row.organization_id),
            domain=str(row.domain),
            selector=str(row.selector),
            algorithm=str(row.algorithm),
            public_key=str(row.public_key),
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class SealedKey:
    """A key with its private half still sealed (``delivery.dkim.unseal`` opens it)."""

    key: DkimKey
    sealed: str = field(repr=False)


async def add_key(
    connection: AsyncConnection,
    *,
    organization_id: int,
    domain: str,
    selector: str,
    algorithm: str,
    sealed: str,
    public_key: str,
    now: datetime,
) -> DkimKey | None:
    """The new key; None when the organization has one for this domain and selector."""
    statement = (
        insert_ignoring_conflicts(
            connection.dialect.name, dkim_keys, ["organization_id", "domain", "selector"]
        )
        .values(
            organization_id=organization_id,
            domain=domain,
            selector=selector,
            algorithm=algorithm,
            private_key=sealed,
            public_key=public_key,
            created_at=now,
        )
        .returning(*PUBLIC_COLUMNS)
    )
    row = (await connection.execute(statement)).first()
    return DkimKey.from_row(row) if row is not None else None


async def list_keys(connection: AsyncConnection, *, organization_id: int) -> list[DkimKey]:
    """The organization's keys by domain and selector."""
    statement = (
        select(*PUBLIC_COLUMNS)
        .where(dkim_keys.c.organization_id == organization_id)
        .order_by(dkim_keys.c.domain, dkim_keys.c.selector)
    )
    return [DkimKey.from_row(row) for row in await connection.execute(statement)]


async def remove_key(
    connection: AsyncConnection, *, organization_id: int, domain: str, selector: str
) -> DkimKey | None:
    """The key removed; None when the organization has no such key."""
    statement = (
        delete(dkim_keys)
        .where(
            dkim_keys.c.organization_id == organization_id,
            dkim_keys.c.domain == domain,
            dkim_keys.c.selector == selector,
        )
        .returning(*PUBLIC_COLUMNS)
    )
    row = (await connection.execute(statement)).first()
    return DkimKey.from_row(row) if row is not None else None


async def keys_for_domains(
    connection: AsyncConnection, *, organization_id: int, domains: Sequence[str]
) -> list[SealedKey]:
    """The keys of the first of ``domains`` that has any (most specific first), sealed."""
    if not domains:
        return []
    statement = (
        select(*PUBLIC_COLUMNS, dkim_keys.c.private_key)
        .where(
            dkim_keys.c.organization_id == organization_id,
            dkim_keys.c.domain.in_(list(domains)),
        )
        .order_by(dkim_keys.c.selector)
    )
    found = [
        SealedKey(DkimKey.from_row(row), str(row.private_key))
        for row in await connection.execute(statement)
    ]
    for domain in domains:
        chosen = [sealed for sealed in found if sealed.key.domain == domain]
        if chosen:
            return chosen
    return []
