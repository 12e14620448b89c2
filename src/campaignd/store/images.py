"""Statements on an organization's images (their bytes are files: ``store.image_files``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.store.dialect import insert_ignoring_conflicts
from campaignd.store.schema import images, organizations


@dataclass(frozen=True)
class Image:
    id: int
    organization_id: int
    organization: str  # the organization's slug: part of the image's path and URL
    hash: str
    media_type: str
    size: int
    width: int
    height: int
    name: str
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: Any) -> Image:
        return cls(
            id=int(row.id),
            organization_id=int(row.organization_id),
            organization=str(row.slug),
            hash=str(row.hash),
            media_type=str(row.media_type),
            size=int(row.size),
            width=int(row.width),
            height=int(row.height),
            name=str(row.name),
            created_at=row.created_at,
            created_by=str(row.created_by),
        )


def _with_slug() -> Any:
    return select(*images.c, organizations.c.slug).join(
        organizations, organizations.c.id == images.c.organization_id
    )


async def add_image(
    connection: AsyncConnection,
    *,
    organization_id: int,
    hash: str,
    media_type: str,
    size: int,
    width: int,
    height: int,
    name: str,
    now: datetime,
    actor: str,
) -> tuple[Image, bool]:
    """The image and whether it is new (False: the organization has these bytes already)."""
    statement = (
        insert_ignoring_conflicts(connection.dialect.name, images, ["organization_id", "hash"])
        .values(
            organization_id=organization_id,
            hash=hash,
            media_type=media_type,
            size=size,
            width=width,
            height=height,
            name=name,
            created_at=now,
            created_by=actor,
        )
        .returning(images.c.id)
    )
    added = (await connection.execute(statement)).first()
    found = await connection.execute(
        _with_slug().where(images.c.organization_id == organization_id, images.c.hash == hash)
    )
    return Image.from_row(found.one()), added is not None


async def list_images(connection: AsyncConnection, *, organization_id: int) -> list[Image]:
    """The organization's images, newest first."""
    statement = (
        _with_slug().where(images.c.organization_id == organization_id).order_by(images.c.id.desc())
    )
    return [Image.from_row(row) for row in await connection.execute(statement)]


async def get_image(
    connection: AsyncConnection, image_id: int, *, organization_id: int | None
) -> Image | None:
    """The image ``image_id``; with ``organization_id``, only if it is that organization's."""
    statement = _with_slug().where(images.c.id == image_id)
    if organization_id is not None:
        statement = statement.where(images.c.organization_id == organization_id)
    row = (await connection.execute(statement)).first()
    return Image.from_row(row) if row is not None else None


async def remove_image(connection: AsyncConnection, image_id: int) -> None:
    await connection.execute(delete(images).where(images.c.id == image_id))
