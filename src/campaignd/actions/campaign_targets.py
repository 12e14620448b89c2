"""The lists and segments a campaign targets: names checked in the campaign's organization,
then stored (part of creating or editing a campaign, in its transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Invalid, UnknownName
from campaignd.store import campaign_targets

MAX_TARGETS = 100
"""Lists, and segments, a campaign may target (each)."""


@dataclass(frozen=True)
class TargetNames:
    """Lists and segments by name; None leaves that part as it is."""

    lists: Sequence[str] | None = None
    segments: Sequence[str] | None = None

    def __bool__(self) -> bool:
        return self.lists is not None or self.segments is not None

    def fields(self) -> list[str]:
        """The API names of the parts given."""
        return [name for name in ("lists", "segments") if getattr(self, name) is not None]

    def detail(self) -> dict[str, Any]:
        """For the audit log: the parts given, with their names."""
        return {name: sorted(set(getattr(self, name))) for name in self.fields()}


def _unknown(kind: str, field: str, names: Sequence[str], found: dict[str, int]) -> None:
    missing = sorted(set(names) - set(found))
    if missing:
        quoted = ", ".join(f"'{name}'" for name in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        plural = "s" if len(missing) > 1 else ""
        raise UnknownName(
            f"{field}: no {kind}{plural} named {quoted}{more} in this organization; nothing changed"
        )


def _check_count(field: str, names: Sequence[str]) -> None:
    if len(set(names)) > MAX_TARGETS:
        raise Invalid(f"{field}: at most {MAX_TARGETS} names")


async def save_targets(
    connection: AsyncConnection, campaign_id: int, organization_id: int, targets: TargetNames
) -> None:
    """Point the campaign at ``targets``, every name being one of the organization's lists
    or segments: an unknown name (or another organization's) is refused, naming it."""
    if targets.lists is not None:
        _check_count("lists", targets.lists)
        found = await campaign_targets.list_ids_by_name(connection, organization_id, targets.lists)
        _unknown("list", "lists", targets.lists, found)
        await campaign_targets.set_lists(connection, campaign_id, list(found.values()))
    if targets.segments is not None:
        _check_count("segments", targets.segments)
        found = await campaign_targets.segment_ids_by_name(
            connection, organization_id, targets.segments
        )
        _unknown("segment", "segments", targets.segments, found)
        await campaign_targets.set_segments(connection, campaign_id, list(found.values()))
