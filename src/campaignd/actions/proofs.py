"""Test sends: a campaign's message, exactly as one of its recipients gets it, sent at once
to 1 to ``MAX_ADDRESSES`` addresses with ``[Test] `` before its subject (``delivery.proofs``).

Allowed in every status (a sent or cancelled campaign too: showing someone what went out
changes nothing). The variables are those of ``recipient`` when given (it must be one of the
campaign's recipients or, until it starts, a contact of its lists and segments, whose
attributes are its variables), else of the campaign's first recipient (or first such
contact by address); a campaign with nobody to mail renders with no variables but
``email``, which is then the test address. Audited as ``campaign.test``; limited per
organization by a ``Throttle`` the caller passes (``TEST_SEND_MAX_REQUESTS`` per
``TEST_SEND_WINDOW``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from campaignd.actions.errors import ActionError, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.delivery.proofs import Outcome, send_proofs
from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.templates import TemplateProblem
from campaignd.store import audit, campaigns
from campaignd.store.columns import utcnow
from campaignd.store.sample_recipients import sample_recipient

MAX_ADDRESSES = 10


class Throttle(Protocol):
    """Counts test sends per organization in windows (``web.throttle`` has the kinds)."""

    async def retry_after(self, client: str) -> float: ...

    async def failed(self, client: str) -> None: ...


class TooManyRequests(ActionError):
    """The organization sent its test sends for this window (429 with Retry-After)."""

    status_code = 429

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"too many test sends for this organization; try again in {seconds} seconds"
        )
        self.retry_after = seconds


@dataclass(frozen=True)
class TestSend:
    """What a test send did: the recipient whose variables it used (None: none) and what
    the server answered for each address."""

    __test__ = False  # not a test class, for pytest

    campaign_id: int
    recipient: str | None
    outcomes: list[Outcome]

    @property
    def sent(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.accepted)

    @property
    def refused(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.accepted]


def checked_addresses(to: Sequence[str]) -> list[str]:
    """The test addresses normalised, each once; Invalid naming the first bad one."""
    if not to:
        raise Invalid(f"to: give 1 to {MAX_ADDRESSES} addresses to send the test to")
    addresses: list[str] = []
    for index, address in enumerate(to):
        try:
            normalised = normalise(address)
        except InvalidAddress as error:
            raise Invalid(f"to[{index}]: {address!r} is not a valid address ({error})") from None
        if normalised not in addresses:
            addresses.append(normalised)
    if len(addresses) > MAX_ADDRESSES:
        raise Invalid(f"to: at most {MAX_ADDRESSES} addresses per test send, not {len(addresses)}")
    return addresses


def _checked_recipient(recipient: str | None) -> str | None:
    if recipient is None or not recipient.strip():
        return None
    try:
        return normalise(recipient)
    except InvalidAddress as error:
        raise Invalid(f"recipient: {recipient!r} is not a valid address ({error})") from None


async def send_test(
    services: Services,
    principal: Principal,
    campaign_id: int,
    *,
    to: Sequence[str],
    recipient: str | None = None,
    throttle: Throttle | None = None,
) -> TestSend:
    """Send the campaign's message to ``to`` as ``recipient`` gets it (see the module)."""
    principal.require_change()
    async with services.database.connection() as connection:
        campaign = await campaigns.get_campaign(
            connection, campaign_id, organization_id=principal.scope
        )
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found")
        addresses = checked_addresses(to)
        wanted = _checked_recipient(recipient)
        chosen = await sample_recipient(connection, campaign, wanted, now=utcnow())
    if wanted is not None and chosen is None:
        raise Invalid(f"recipient: {wanted} is not one of campaign {campaign_id}'s recipients")
    organization_id = int(campaign["organization_id"])
    if throttle is not None:
        key = str(organization_id)
        wait = await throttle.retry_after(key)
        if wait > 0:
            raise TooManyRequests(max(1, math.ceil(wait)))
        await throttle.failed(key)
    try:
        outcomes = await send_proofs(
            services.database,
            services.settings,
            campaign_id,
            recipient=chosen.email if chosen is not None else None,
            variables=chosen.variables if chosen is not None else None,
            to=addresses,
        )
    except TemplateProblem as problem:
        raise Invalid(f"the message cannot be built: {problem}") from None
    except LookupError:
        raise NotFound(f"campaign {campaign_id} not found") from None
    result = TestSend(campaign_id, chosen.email if chosen is not None else None, outcomes)
    async with services.database.transaction() as connection:
        await audit.record(
            connection,
            actor=principal.actor,
            action="campaign.test",
            organization_id=organization_id,
            target=str(campaign_id),
            detail={
                "to": addresses,
                "recipient": result.recipient,
                "sent": result.sent,
                "refused": [f"{item.to}: {item.reply}" for item in result.refused],
            },
        )
    return result
