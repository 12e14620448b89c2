"""One module of routes per resource, all under ``/api/admin/marketing``."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from campaignd.api.content import require_json
from campaignd.api.models import ERROR_RESPONSES
from campaignd.api.routes import (
    campaigns,
    dkim,
    health,
    lifecycle,
    recipients,
    reports,
    suppressions,
)

PREFIX = "/api/admin/marketing"


def admin_api_router() -> APIRouter:
    """Reports first: ``/campaigns/scheduled`` must not be read as a campaign id."""
    router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    for module in (reports, campaigns, lifecycle, suppressions, dkim):
        router.include_router(module.router, dependencies=[Depends(require_json)])
    router.include_router(recipients.router)
    return router


__all__ = ["admin_api_router", "health"]
