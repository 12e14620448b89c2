"""The test send form of a campaign page (before ``detail``, whose ``/{action}`` would take it)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from campaignd.actions import proofs as actions
from campaignd.actions.errors import ActionError, NotFound
from campaignd.api.params import CampaignId
from campaignd.web.auth import ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import sentence
from campaignd.web.proof_throttle import test_send_throttle
from campaignd.web.rendering import flash_and_redirect
from campaignd.web.routes.campaigns import READ_ONLY, detail_url
from campaignd.web.session import services_of

router = APIRouter(prefix="/admin/marketing/campaigns/{campaign_id:int}", route_class=AdminRoute)

SEPARATORS = re.compile(r"[\s,;]+")


def _addresses(text: str) -> list[str]:
    return [item for item in SEPARATORS.split(text) if item]


@router.post("/test")
async def send_test(request: Request, viewer: ViewerDep, campaign_id: CampaignId) -> Response:
    form = await checked_form(request)
    back = detail_url(campaign_id) + "#test-send"
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    try:
        result = await actions.send_test(
            services_of(request),
            viewer.principal,
            campaign_id,
            to=_addresses(text_of(form, "to")),
            recipient=text_of(form, "recipient") or None,
            throttle=test_send_throttle(request),
        )
    except NotFound:
        raise
    except ActionError as problem:
        return await flash_and_redirect(request, back, "error", sentence(problem.detail))
    whose = f" as {result.recipient} gets it" if result.recipient else ""
    text = f"Test sent to {result.sent} of {len(result.outcomes)} addresses{whose}."
    if result.refused:
        refused = "; ".join(f"{item.to}: {item.reply}" for item in result.refused)
        return await flash_and_redirect(request, back, "error", f"{text} Refused: {refused}.")
    return await flash_and_redirect(request, back, "success", text)
