"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    detail,
    dkim,
    login,
    reports,
    scheduled,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, detail, reports, suppressions, dkim):
        router.include_router(module.router)
    return router
