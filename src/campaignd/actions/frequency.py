"""Frequency rules: an organization's rules and its categories', and a campaign's category."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.actions.errors import Conflict, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.domain.frequency import (
    FrequencyProblem,
    Rule,
    checked_category,
    checked_rules,
    parse_rule,
)
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.store import audit
from campaignd.store.columns import utcnow
from campaignd.store.frequency_rules import OWN, RuleSets, remove_rules, rule_sets, set_rules
from campaignd.store.organizations import organization_by_id
from campaignd.store.schema import campaigns

EDITABLE = (CampaignStatus.DRAFT.value, CampaignStatus.SCHEDULED.value)
FINISHED = (CampaignStatus.SENT.value, CampaignStatus.FAILED.value, CampaignStatus.CANCELLED.value)


@dataclass(frozen=True)
class RulesView:
    organization: str
    sets: RuleSets

    def as_json(self) -> dict[str, Any]:
        """The API's and ``--json``'s shape."""
        return {
            "organization": self.organization,
            "rules": [rule.as_json() for rule in self.sets.rules],
            "default": self.sets.default,
            "categories": [
                {"name": name, "rules": [rule.as_json() for rule in rules]}
                for name, rules in self.sets.categories.items()
            ],
        }


def _checked(problem: FrequencyProblem) -> Invalid:
    return Invalid(str(problem))


async def _view(
    services: Services, connection: AsyncConnection, organization_id: int, slug: str
) -> RulesView:
    sets = await rule_sets(
        connection, organization_id, cooldown_days=services.settings.cooldown_days
    )
    return RulesView(slug, sets)


async def show_rules(
    services: Services, principal: Principal, *, organization: str | None = None
) -> RulesView:
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        return await _view(services, connection, organization_id, slug)


async def change_rules(
    services: Services,
    principal: Principal,
    *,
    rules: Any,
    category: str | None = None,
    organization: str | None = None,
) -> RulesView:
    """Set the organization's rules (``category`` None) or a category's (creating it);
    ``rules`` is the JSON list ``[{"max": N, "days": D}, ...]`` ([] for a category: no cap)."""
    principal.require_change()
    try:
        checked = checked_rules(rules)
        name = OWN if category is None else checked_category(category)
    except FrequencyProblem as problem:
        raise _checked(problem) from None
    if category is None and not checked:
        raise Invalid(
            "rules: an organization needs at least one rule; use reset to go back to the default"
        )
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        await set_rules(connection, organization_id, category=name, rules=checked, now=utcnow())
        await audit.record(
            connection,
            actor=principal.actor,
            action="frequency_rules.set",
            organization_id=organization_id,
            target=category or slug,
            detail={"category": category, "rules": [rule.as_json() for rule in checked]},
        )
        return await _view(services, connection, organization_id, slug)


async def reset_rules(
    services: Services,
    principal: Principal,
    *,
    category: str | None = None,
    organization: str | None = None,
) -> RulesView:
    """Back to the default rule (``category`` None), or remove a category: refused while a
    campaign that has not finished belongs to it."""
    principal.require_change()
    try:
        name = OWN if category is None else checked_category(category)
    except FrequencyProblem as problem:
        raise _checked(problem) from None
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        if category is not None:
            using = await _unfinished_in(connection, organization_id, category)
            if using:
                raise Conflict(
                    f"category: {using} campaign(s) of '{category}' have not finished; "
                    "move them to another category first"
                )
        removed = await remove_rules(connection, organization_id, category=name)
        if category is not None and not removed:
            raise NotFound(f"category: {slug} has no category '{category}'")
        await audit.record(
            connection,
            actor=principal.actor,
            action="frequency_rules.reset",
            organization_id=organization_id,
            target=category or slug,
            detail={"category": category},
        )
        return await _view(services, connection, organization_id, slug)


async def _unfinished_in(connection: AsyncConnection, organization_id: int, category: str) -> int:
    statement = select(func.count()).where(
        campaigns.c.organization_id == organization_id,
        campaigns.c.category == category,
        campaigns.c.status.not_in(FINISHED),
    )
    return int((await connection.execute(statement)).scalar_one())


async def check_category(
    services: Services, principal: Principal, category: str | None, *, organization: str | None
) -> None:
    """``category`` is None or one of the organization's categories (before creating a
    campaign in it)."""
    if category is None:
        return
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        await _known_category(services, connection, organization_id, slug, category)


async def _known_category(
    services: Services, connection: AsyncConnection, organization_id: int, slug: str, category: str
) -> None:
    try:
        checked_category(category)
    except FrequencyProblem as problem:
        raise _checked(problem) from None
    sets = await rule_sets(
        connection, organization_id, cooldown_days=services.settings.cooldown_days
    )
    if category not in sets.categories:
        known = ", ".join(sets.categories) or "none yet"
        raise Invalid(
            f"category: {slug} has no category '{category}' (its categories: {known}); "
            "create it with its rules first"
        )


async def set_campaign_category(
    services: Services, principal: Principal, campaign_id: int, category: str | None
) -> None:
    """Put a draft or scheduled campaign in ``category`` (None: none)."""
    principal.require_change()
    async with services.database.transaction() as connection:
        statement = select(campaigns.c.organization_id, campaigns.c.status).where(
            campaigns.c.id == campaign_id
        )
        if principal.scope is not None:
            statement = statement.where(campaigns.c.organization_id == principal.scope)
        row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"campaign {campaign_id} not found")
        organization_id, status = int(row[0]), str(row[1])
        if category is not None:
            organization_row = await organization_by_id(connection, organization_id)
            assert organization_row is not None
            slug = str(organization_row["slug"])
            await _known_category(services, connection, organization_id, slug, category)
        if status not in EDITABLE:
            raise Conflict(
                f"category: the campaign is {status}; only a draft or a scheduled one can change"
            )
        await connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(category=category, updated_at=utcnow())
        )
        await audit.record(
            connection,
            actor=principal.actor,
            action="campaign.category",
            organization_id=organization_id,
            target=str(campaign_id),
            detail={"category": category},
        )


def rules_from_text(texts: list[str]) -> list[dict[str, int]]:
    """The CLI's ``--rule 1/1d --rule 3/7d`` as the JSON rule list."""
    try:
        parsed: list[Rule] = [parse_rule(text) for text in texts]
    except FrequencyProblem as problem:
        raise _checked(problem) from None
    return [rule.as_json() for rule in parsed]
