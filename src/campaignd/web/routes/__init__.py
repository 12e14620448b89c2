"""The admin pages, one module per group of pages."""

from __future__ import annotations

from fastapi import APIRouter

from campaignd.web.routes import (
    campaigns,
    detail,
    dkim,
    images,
    login,
    proofs,
    scheduled,
    suppressions,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (login, scheduled, campaigns, proofs, detail, suppressions, dkim, images):
        router.include_router(module.router)
    return router
