"""Frequency rules of an organization and of its categories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from campaignd.actions import frequency as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import FrequencyRules, FrequencyRulesChange, problem
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["frequency rules"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]


def rules_model(view: actions.RulesView) -> FrequencyRules:
    return FrequencyRules.model_validate(view.as_json())


@router.get("/frequency-rules")
async def show_rules(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> FrequencyRules:
    """The organization's frequency rules (``default``: it set none, and the rule is
    ``1 per COOLDOWN_DAYS days``) and its categories with theirs."""
    return rules_model(await actions.show_rules(services, principal, organization=organization))


@router.put("/frequency-rules")
async def set_rules(
    body: Annotated[FrequencyRulesChange, Body()], services: ServicesDep, principal: PrincipalDep
) -> FrequencyRules:
    """Replace the rules of the organization's campaigns without a category: 1 to 5 rules
    ``{"max": N, "days": D}`` (at most N messages within D days), each a different D. They
    apply from the next campaign that starts."""
    view = await actions.change_rules(
        services, principal, rules=body.rules, organization=body.organization
    )
    return rules_model(view)


@router.delete("/frequency-rules")
async def reset_rules(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> FrequencyRules:
    """Back to the default rule, ``1 per COOLDOWN_DAYS days``."""
    return rules_model(await actions.reset_rules(services, principal, organization=organization))


@router.put("/frequency-rules/categories/{name}")
async def set_category(
    name: str,
    body: Annotated[FrequencyRulesChange, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> FrequencyRules:
    """Create a category or replace its rules (0 to 5; none: its campaigns are not capped).
    Its campaigns are held to these rules only, counted over the category's own messages."""
    view = await actions.change_rules(
        services, principal, rules=body.rules, category=name, organization=body.organization
    )
    return rules_model(view)


@router.delete(
    "/frequency-rules/categories/{name}",
    responses={409: problem("A campaign of the category has not finished; nothing changed")},
)
async def remove_category(
    name: str, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> FrequencyRules:
    """Remove a category (none of its campaigns may be unfinished). Its past messages stay
    in the ledger and count for nothing else."""
    view = await actions.reset_rules(services, principal, category=name, organization=organization)
    return rules_model(view)
