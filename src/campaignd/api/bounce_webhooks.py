"""``POST /webhooks/bounces/{provider}/{organization}``: bounces and complaints from
Postmark, SendGrid and Mailgun (docs/deliverability.md). Public (the providers hold no
API token): each request is verified its provider's way (``actions.bounce_webhooks``).

200 ``{"events": n, "applied": m}``; 401 when the signature or credentials do not
verify, 409 for a replay, 404 for a provider that is not set up or an unknown
organization, 400 for a body that cannot be read: each changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from campaignd.actions.bounce_webhooks import WebhookRefused, receive
from campaignd.actions.services import Services

router = APIRouter(include_in_schema=False)  # public, like the unsubscribe pages


@router.post("/webhooks/bounces/{provider}/{organization}")
async def bounce_webhook(provider: str, organization: str, request: Request) -> JSONResponse:
    """Bounces and complaints from an email provider, for the organization named."""
    services: Services = request.app.state.services
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        received = await receive(
            services, provider=provider, organization=organization, headers=headers, body=body
        )
    except WebhookRefused as refused:
        basic = refused.status == 401 and provider == "postmark"
        answer = {"WWW-Authenticate": 'Basic realm="campaignd"'} if basic else {}
        return JSONResponse({"detail": refused.detail}, status_code=refused.status, headers=answer)
    return JSONResponse({"events": received.events, "applied": received.applied})
