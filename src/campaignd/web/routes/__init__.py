"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    detail,
    dkim,
    login,
    scheduled,
    suppressions,
    webhooks,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, detail, suppressions, dkim, webhooks):
        router.include_router(module.router)
    return router
