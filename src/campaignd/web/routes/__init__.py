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
    settings,
    suppressions,
    webhooks,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    campaign_pages = (login, scheduled, live_preview, campaigns, proofs, detail, reports)
    settings_pages = (settings, suppressions, dkim, images, layouts, frequency, webhooks)
    for module in (*campaign_pages, *settings_pages, contacts, lists, segments):
        router.include_router(module.router)
    return router
