"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    contacts,
    detail,
    dkim,
    images,
    lists,
    login,
    proofs,
    scheduled,
    segments,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, proofs, detail, suppressions, dkim, images):
        router.include_router(module.router)
    for module in (contacts, lists, segments):
        router.include_router(module.router)
    return router
