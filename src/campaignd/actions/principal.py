"""Who is acting: role, organization scope and the name written to the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from campaignd.actions.errors import Forbidden


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    ORGANIZATION_ADMIN = "organization_admin"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    actor: str
    role: Role
    organization_id: int | None = None
    organization_slug: str | None = None

    @property
    def scope(self) -> int | None:
        """The organization this principal is limited to; None for platform admins."""
        return None if self.role is Role.PLATFORM_ADMIN else self.organization_id

    @property
    def can_change(self) -> bool:
        return self.role is not Role.VIEWER

    def require_change(self) -> None:
        if not self.can_change:
            raise Forbidden("viewers can read but not change anything")

    def require_platform_admin(self) -> None:
        if self.role is not Role.PLATFORM_ADMIN:
            raise Forbidden("only a platform admin may do this")


def principal_for_token(row: Mapping[str, Any]) -> Principal:
    """The principal of an API token row (with its ``organization_slug``)."""
    return Principal(
        actor=f"token:{row['name']}",
        role=Role(row["role"]),
        organization_id=row["organization_id"],
        organization_slug=row["organization_slug"],
    )
