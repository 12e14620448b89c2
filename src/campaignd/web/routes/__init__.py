"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    contacts,
    detail,
    dkim,
    lists,
    login,
    scheduled,
    segments,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, detail, suppressions, dkim):
        router.include_router(module.router)
    for module in (contacts, lists, segments):
        router.include_router(module.router)
    return router
