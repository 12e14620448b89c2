"""Test sends: ``POST /campaigns/{id}/test``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, status
from pydantic import Field

from campaignd.actions import proofs as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.errors import ProblemError
from campaignd.api.models import EmailText, RequestModel, ResponseModel, problem
from campaignd.api.params import CampaignId
from campaignd.api.routing import ApiRoute
from campaignd.web.proof_throttle import test_send_throttle

router = APIRouter(tags=["lifecycle"], route_class=ApiRoute)


class TestSendRequest(RequestModel):
    __test__ = False

    to: list[EmailText] = Field(
        max_length=1000, description=f"1 to {actions.MAX_ADDRESSES} addresses to send the test to"
    )
    recipient: EmailText | None = Field(
        None,
        description="the campaign recipient whose variables to use; absent: its first recipient",
    )


class Refusal(ResponseModel):
    email: str
    reason: str


class TestSendResult(ResponseModel):
    __test__ = False

    sent: int
    """How many of the addresses the mail server accepted."""
    recipient: str | None
    """Whose variables the message was rendered with (None: the campaign has no recipients)."""
    refused: list[Refusal]


@router.post(
    "/campaigns/{campaign_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses={429: problem("Too many test sends for the organization; see Retry-After")},
)
async def send_test(
    campaign_id: CampaignId,
    body: Annotated[TestSendRequest, Body()],
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TestSendResult:
    """Send the campaign's message, exactly as `recipient` (default: the first recipient)
    gets it, to 1 to 10 addresses now, with `[Test] ` before the subject. Works in every
    status; never counted, never in the delivery ledger or the cooldown, suppresses nobody.
    Its unsubscribe links are inert. Limited per organization (429 with Retry-After)."""
    try:
        result = await actions.send_test(
            services,
            principal,
            campaign_id,
            to=body.to,
            recipient=body.recipient,
            throttle=test_send_throttle(request),
        )
    except actions.TooManyRequests as error:
        raise ProblemError(
            429, error.detail, headers={"Retry-After": str(error.retry_after)}
        ) from None
    return TestSendResult(
        sent=result.sent,
        recipient=result.recipient,
        refused=[Refusal(email=item.to, reason=str(item.reply)) for item in result.refused],
    )
