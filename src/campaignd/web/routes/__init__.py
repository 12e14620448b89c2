"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    contacts,
    detail,
    dkim,
    frequency,
    images,
    layouts,
    lists,
    live_preview,
    login,
    proofs,
    reports,
    scheduled,
    segments,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (
        login,
        scheduled,
        live_preview,
        campaigns,
        proofs,
        detail,
        reports,
        suppressions,
    ):
        router.include_router(module.router)
    for module in (suppressions, dkim, images, layouts, contacts, lists, segments, frequency):
        router.include_router(module.router)
    return router
