"""Small pieces several admin pages share: a flash message as a sentence, an optional
form value, and the organizations a platform admin chooses from."""

from __future__ import annotations

from fastapi import Request

from campaignd.store.organizations import list_organizations
from campaignd.store.rows import Row
from campaignd.web.auth import Viewer
from campaignd.web.session import services_of


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop, as a flash message."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def optional_text(value: str | None) -> str | None:
    """A form value without surrounding spaces; None when nothing is left."""
    value = (value or "").strip()
    return value or None


async def organizations_to_choose(request: Request, viewer: Viewer) -> list[Row]:
    """Every organization for a platform admin (who picks one); none for anyone else."""
    if not viewer.is_platform_admin:
        return []
    async with services_of(request).database.connection() as connection:
        return await list_organizations(connection)
