"""The lists and segments a campaign targets: looked up by name, stored, read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.schema import (
    campaign_lists,
    campaign_segments,
    lists,
    segments,
)


@dataclass(frozen=True)
class Targets:
    """A campaign's lists and segments, by name (in name order)."""

    lists: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TargetIds:
    """A campaign's lists and segments, by id."""

    list_ids: list[int] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.list_ids or self.segment_ids)


async def _ids_by_name(
    connection: AsyncConnection, table: Table, organization_id: int, names: Sequence[str]
) -> dict[str, int]:
    if not names:
        return {}
    statement = select(table.c.name, table.c.id).where(
        table.c.organization_id == organization_id, table.c.name.in_(list(set(names)))
    )
    return {str(name): int(row_id) for name, row_id in (await connection.execute(statement)).all()}


async def list_ids_by_name(
    connection: AsyncConnection, organization_id: int, names: Sequence[str]
) -> dict[str, int]:
    """The organization's lists among ``names``: name -> id (a name not there is left out)."""
    return await _ids_by_name(connection, lists, organization_id, names)


async def segment_ids_by_name(
    connection: AsyncConnection, organization_id: int, names: Sequence[str]
) -> dict[str, int]:
    """The organization's segments among ``names``: name -> id (a name not there is left out)."""
    return await _ids_by_name(connection, segments, organization_id, names)


async def set_lists(connection: AsyncConnection, campaign_id: int, list_ids: Sequence[int]) -> None:
    """The campaign targets exactly ``list_ids`` from now on."""
    await _replace(connection, campaign_lists, "list_id", campaign_id, list_ids)


async def set_segments(
    connection: AsyncConnection, campaign_id: int, segment_ids: Sequence[int]
) -> None:
    """The campaign targets exactly ``segment_ids`` from now on."""
    await _replace(connection, campaign_segments, "segment_id", campaign_id, segment_ids)


async def _replace(
    connection: AsyncConnection,
    table: Table,
    column: str,
    campaign_id: int,
    target_ids: Sequence[int],
) -> None:
    await connection.execute(delete(table).where(table.c.campaign_id == campaign_id))
    unique = sorted(set(target_ids))
    if unique:
        await connection.execute(
            insert(table), [{"campaign_id": campaign_id, column: target_id} for target_id in unique]
        )


async def target_ids(connection: AsyncConnection, campaign_id: int) -> TargetIds:
    """The ids of the lists and segments the campaign targets."""
    list_rows = await connection.execute(
        select(campaign_lists.c.list_id).where(campaign_lists.c.campaign_id == campaign_id)
    )
    segment_rows = await connection.execute(
        select(campaign_segments.c.segment_id).where(campaign_segments.c.campaign_id == campaign_id)
    )
    return TargetIds(
        list_ids=sorted(int(value) for value in list_rows.scalars()),
        segment_ids=sorted(int(value) for value in segment_rows.scalars()),
    )


async def targets_of(
    connection: AsyncConnection, campaign_ids: Sequence[int]
) -> dict[int, Targets]:
    """Per campaign, the names of the lists and segments it targets (two statements)."""
    names: dict[str, dict[int, list[str]]] = {"lists": {}, "segments": {}}
    if campaign_ids:
        for key, link, table, target_id in (
            ("lists", campaign_lists, lists, campaign_lists.c.list_id),
            ("segments", campaign_segments, segments, campaign_segments.c.segment_id),
        ):
            statement = (
                select(link.c.campaign_id, table.c.name)
                .select_from(link.join(table, table.c.id == target_id))
                .where(link.c.campaign_id.in_(list(campaign_ids)))
                .order_by(link.c.campaign_id, table.c.name)
            )
            for campaign_id, name in (await connection.execute(statement)).all():
                names[key].setdefault(int(campaign_id), []).append(str(name))
    return {
        campaign_id: Targets(
            lists=names["lists"].get(campaign_id, []),
            segments=names["segments"].get(campaign_id, []),
        )
        for campaign_id in campaign_ids
    }
