"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    detail,
    dkim,
    layouts,
    live_preview,
    login,
    scheduled,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, live_preview, campaigns, detail, suppressions, dkim, layouts):
        router.include_router(module.router)
    return router
