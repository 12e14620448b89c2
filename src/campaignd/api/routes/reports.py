"""What is coming (scheduled campaigns) and what happened (the execution log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from campaignd.actions import campaigns as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import Execution, ExecutionLog, Upcoming, UpcomingCampaign
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["reports"], route_class=ApiRoute)


@router.get("/campaigns/scheduled")
async def scheduled(
    services: ServicesDep,
    principal: PrincipalDep,
    hours: Annotated[
        float | None, Query(gt=0, le=8784, description="window; default UPCOMING_HOURS")
    ] = None,
) -> Upcoming:
    """Scheduled campaigns due within ``hours``, soonest first."""
    window = hours if hours is not None else services.settings.upcoming_hours
    rows = await actions.upcoming(services, principal, hours=window)
    return Upcoming(campaigns=[UpcomingCampaign.model_validate(row) for row in rows])


@router.get("/campaigns/execution-log")
async def execution_log(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ExecutionLog:
    """One row per run, newest first, failed and cancelled runs included."""
    rows = await actions.execution_log(services, principal, limit=limit)
    return ExecutionLog(
        executions=[
            Execution.model_validate({**row, "executed_at": row["started_at"]}) for row in rows
        ]
    )
