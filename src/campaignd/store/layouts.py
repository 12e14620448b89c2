"""Statements on an organization's layouts, and the layout a campaign is sent with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.content import Layout as LayoutParts
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.schema import campaigns, layouts

IN_USE = (CampaignStatus.SCHEDULED.value, CampaignStatus.SENDING.value)
"""Campaigns whose layout cannot be removed."""
STARTED = frozenset(
    {
        CampaignStatus.SENDING.value,
        CampaignStatus.PAUSED.value,
        CampaignStatus.SENT.value,
        CampaignStatus.FAILED.value,
    }
)
"""Statuses in which a campaign's layout is the copy taken when it started."""


@dataclass(frozen=True)
class Layout:
    id: int
    organization_id: int
    name: str
    html: str
    text: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Layout:
        return cls(
            id=int(row.id),
            organization_id=int(row.organization_id),
            name=str(row.name),
            html=str(row.html),
            text=row.text,
            is_default=bool(row.is_default),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @property
    def parts(self) -> LayoutParts:
        return LayoutParts(html=self.html, text=self.text)


async def _clear_default(connection: AsyncConnection, organization_id: int) -> None:
    await connection.execute(
        update(layouts)
        .where(layouts.c.organization_id == organization_id, layouts.c.is_default)
        .values(is_default=False)
    )


async def add_layout(
    connection: AsyncConnection,
    *,
    organization_id: int,
    name: str,
    html: str,
    text: str | None,
    is_default: bool,
    now: datetime,
) -> Layout | None:
    """The new layout; None when the organization has one of that name. A new default
    takes the place of the previous one."""
    if is_default:
        await _clear_default(connection, organization_id)
    statement = (
        insert_ignoring_conflicts(connection.dialect.name, layouts, ["organization_id", "name"])
        .values(
            organization_id=organization_id,
            name=name,
            html=html,
            text=text,
            is_default=is_default,
            created_at=now,
            updated_at=now,
        )
        .returning(*layouts.c)
    )
    row = (await connection.execute(statement)).first()
    return Layout.from_row(row) if row is not None else None


async def list_layouts(connection: AsyncConnection, *, organization_id: int) -> list[Layout]:
    statement = (
        select(layouts).where(layouts.c.organization_id == organization_id).order_by(layouts.c.name)
    )
    return [Layout.from_row(row) for row in await connection.execute(statement)]


async def get_layout(
    connection: AsyncConnection, *, organization_id: int, name: str
) -> Layout | None:
    statement = select(layouts).where(
        layouts.c.organization_id == organization_id, layouts.c.name == name
    )
    row = (await connection.execute(statement)).first()
    return Layout.from_row(row) if row is not None else None


async def default_layout(connection: AsyncConnection, *, organization_id: int) -> Layout | None:
    statement = select(layouts).where(
        layouts.c.organization_id == organization_id, layouts.c.is_default
    )
    row = (await connection.execute(statement)).first()
    return Layout.from_row(row) if row is not None else None


async def edit_layout(
    connection: AsyncConnection,
    *,
    organization_id: int,
    name: str,
    changes: dict[str, Any],
    now: datetime,
) -> Layout | None:
    """``changes`` (``html``, ``text``, ``is_default``) applied; None when there is no such
    layout. Making one the default takes the flag from the previous one."""
    if changes.get("is_default"):
        await _clear_default(connection, organization_id)
    statement = (
        update(layouts)
        .where(layouts.c.organization_id == organization_id, layouts.c.name == name)
        .values(updated_at=now, **changes)
        .returning(*layouts.c)
    )
    row = (await connection.execute(statement)).first()
    return Layout.from_row(row) if row is not None else None


async def campaigns_using(
    connection: AsyncConnection, *, organization_id: int, name: str
) -> list[tuple[int, str, str]]:
    """Scheduled and sending campaigns of the organization that use the layout: id, name
    and status, at most 10."""
    statement = (
        select(campaigns.c.id, campaigns.c.name, campaigns.c.status)
        .where(
            campaigns.c.organization_id == organization_id,
            campaigns.c.layout == name,
            campaigns.c.status.in_(IN_USE),
        )
        .order_by(campaigns.c.id)
        .limit(10)
    )
    return [
        (int(row.id), str(row.name), str(row.status)) for row in await connection.execute(statement)
    ]


async def remove_layout(
    connection: AsyncConnection, *, organization_id: int, name: str
) -> Layout | None:
    """The layout removed; None when there is none of that name, or a scheduled or sending
    campaign uses it (checked in the same statement: ``campaigns_using`` says which)."""
    in_use = (
        select(func.count())
        .where(
            campaigns.c.organization_id == organization_id,
            campaigns.c.layout == name,
            campaigns.c.status.in_(IN_USE),
        )
        .scalar_subquery()
    )
    statement = (
        delete(layouts)
        .where(
            and_(layouts.c.organization_id == organization_id, layouts.c.name == name),
            in_use == 0,
        )
        .returning(*layouts.c)
    )
    row = (await connection.execute(statement)).first()
    return Layout.from_row(row) if row is not None else None


async def fix_campaign_layout(connection: AsyncConnection, campaign_id: int) -> None:
    """Copy the campaign's layout into the campaign (on start): later edits of the layout
    do not change it."""
    source = (
        select(layouts.c.html, layouts.c.text)
        .where(
            layouts.c.organization_id == campaigns.c.organization_id,
            layouts.c.name == campaigns.c.layout,
        )
        .correlate(campaigns)
    )
    await connection.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(
            layout_html=source.with_only_columns(layouts.c.html).scalar_subquery(),
            layout_text=source.with_only_columns(layouts.c.text).scalar_subquery(),
        )
    )


async def campaign_layout(connection: AsyncConnection, campaign: Any) -> LayoutParts | None:
    """The layout a campaign's messages get: the copy taken when it started, else (draft,
    scheduled: a preview) the layout as it is now. None: no layout."""
    if campaign["layout"] is None:
        return None
    if campaign["status"] in STARTED or (
        campaign["status"] == CampaignStatus.CANCELLED.value and campaign["started_at"]
    ):
        return started_layout(campaign)
    layout = await get_layout(
        connection, organization_id=int(campaign["organization_id"]), name=str(campaign["layout"])
    )
    return layout.parts if layout is not None else None


def started_layout(campaign: Any) -> LayoutParts | None:
    """The copy of the layout a started campaign took (None: it had none)."""
    if campaign["layout"] is None or not campaign["layout_html"]:
        return None
    return LayoutParts(html=str(campaign["layout_html"]), text=campaign["layout_text"])
