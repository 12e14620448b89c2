"""Statements on frequency rule sets: an organization's (category '') and its categories'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.frequency import Rule, checked_rules, default_rules
from campaignd.store.dialect import upsert
from campaignd.store.schema import frequency_rules

OWN = ""
"""The ``category`` of an organization's own rules: those of its campaigns without one."""


@dataclass(frozen=True)
class RuleSets:
    """An organization's rules (``default``: it set none, they follow ``COOLDOWN_DAYS``) and
    its categories' rules by name."""

    rules: tuple[Rule, ...]
    default: bool
    categories: dict[str, tuple[Rule, ...]]

    def for_category(self, category: str | None) -> tuple[Rule, ...]:
        """The rules a campaign of ``category`` is held to; a category that no longer
        exists counts as none."""
        if category is not None and category in self.categories:
            return self.categories[category]
        return self.rules

    def counts_category(self, category: str | None) -> str | None:
        """The category whose messages count against a campaign of ``category``."""
        return category if category is not None and category in self.categories else None


async def rule_sets(
    connection: AsyncConnection, organization_id: int, *, cooldown_days: int
) -> RuleSets:
    rows = (
        await connection.execute(
            select(frequency_rules.c.category, frequency_rules.c.rules).where(
                frequency_rules.c.organization_id == organization_id
            )
        )
    ).all()
    stored = {str(category): checked_rules(list(rules)) for category, rules in rows}
    own = stored.pop(OWN, None)
    return RuleSets(
        rules=default_rules(cooldown_days) if own is None else own,
        default=own is None,
        categories=dict(sorted(stored.items())),
    )


async def set_rules(
    connection: AsyncConnection,
    organization_id: int,
    *,
    category: str,
    rules: tuple[Rule, ...],
    now: datetime,
) -> None:
    """Store the rules of the organization (``category`` ``OWN``) or of one of its
    categories (creating it)."""
    values = {
        "organization_id": organization_id,
        "category": category,
        "rules": [rule.as_json() for rule in rules],
        "updated_at": now,
    }
    statement = upsert(connection.dialect.name, frequency_rules).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["organization_id", "category"],
        set_={"rules": statement.excluded.rules, "updated_at": statement.excluded.updated_at},
    )
    await connection.execute(statement)


async def remove_rules(connection: AsyncConnection, organization_id: int, *, category: str) -> bool:
    """Remove a category (or, with ``OWN``, go back to the default rules); False: none."""
    result = await connection.execute(
        delete(frequency_rules).where(
            frequency_rules.c.organization_id == organization_id,
            frequency_rules.c.category == category,
        )
    )
    return bool(result.rowcount)
