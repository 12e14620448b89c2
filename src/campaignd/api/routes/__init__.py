"""One module of routes per resource, all under ``/api/admin/marketing``."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from campaignd.api.content import require_json
from campaignd.api.models import ERROR_RESPONSES
from campaignd.api.routes import (
    campaign_report,
    campaigns,
    contacts,
    dkim,
    frequency,
    health,
    images,
    layouts,
    lifecycle,
    lists,
    proofs,
    recipients,
    reports,
    suppression_files,
    suppressions,
    webhooks,
)
from campaignd.api.routes import segments as segment_routes

PREFIX = "/api/admin/marketing"


def admin_api_router() -> APIRouter:
    """Reports first: ``/campaigns/scheduled`` must not be read as a campaign id; and the
    suppression files before ``/suppressions/{email}``. Routes with a CSV body or answer are
    not under ``require_json``."""
    router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    router.include_router(suppression_files.router)
    router.include_router(campaign_report.router)  # before campaigns: /campaigns/compare
    for module in (
        reports,
        campaigns,
        lifecycle,
        proofs,
        suppressions,
        lists,
        dkim,
        layouts,
        frequency,
        webhooks,
    ):
        router.include_router(module.router, dependencies=[Depends(require_json)])
    router.include_router(recipients.router)
    router.include_router(segment_routes.router, dependencies=[Depends(require_json)])
    router.include_router(contacts.router)  # JSON, CSV or JSON Lines: checked per route
    router.include_router(images.router)  # multipart uploads
    return router


__all__ = ["admin_api_router", "health"]
