"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    detail,
    dkim,
    frequency,
    login,
    scheduled,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, detail, suppressions, dkim, frequency):
        router.include_router(module.router)
    return router
