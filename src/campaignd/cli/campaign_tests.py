"""``campaignd campaign test``: send a campaign's message to a few addresses as a test."""

from __future__ import annotations

import typer

from campaignd.actions import proofs as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.common import console
from campaignd.cli.output import JSON, print_json


def test(
    campaign_id: int = typer.Argument(..., metavar="ID", help="The campaign's id.", min=1),
    to: list[str] = typer.Option(
        ...,
        "--to",
        metavar="ADDRESS",
        help=f"An address to send the test to (repeat: 1 to {actions.MAX_ADDRESSES}).",
    ),
    recipient: str | None = typer.Option(
        None,
        "--recipient",
        metavar="ADDRESS",
        help=(
            "The campaign recipient whose variables to use (default: its first recipient);"
            " before the campaign starts, also a contact of its lists and segments."
        ),
    ),
    as_json: bool = JSON,
) -> None:
    """Send a test of the campaign to a few addresses.

    The message goes out now, exactly as one of its recipients gets it, to 1 to 10
    addresses, with "[Test] " before the subject. Works in every status. Nothing is
    counted or recorded in the delivery ledger or the cooldown, and nobody is
    suppressed; the unsubscribe links of a test change nothing.
    Without --recipient the campaign's first recipient's variables are used; before it
    starts, a campaign to lists and segments only uses its first contact's attributes
    (by address). With nobody to mail it renders with no variables, each test address
    as its own email.
    Signed with DKIM when the From domain has a key. Audited as campaign.test; the
    command is not limited (the API and the admin page are, per organization).

    \b
    Example:
      campaignd campaign test 12 --to me@example.org --to boss@example.org
      campaignd campaign test 12 --to me@example.org --recipient ada@example.com
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.TestSend:
        return await actions.send_test(services, principal, campaign_id, to=to, recipient=recipient)

    result = run_action(settings, work)
    refused = [{"email": item.to, "reason": str(item.reply)} for item in result.refused]
    if as_json:
        print_json({"sent": result.sent, "recipient": result.recipient, "refused": refused})
    else:
        whose = (
            f"as {result.recipient} gets it"
            if result.recipient is not None
            else "with no recipient's variables (the campaign has no recipients)"
        )
        _say(
            f"sent a test of campaign {campaign_id} to {result.sent} of {len(result.outcomes)} "
            f"addresses, {whose}"
        )
        for item in refused:
            _say(f"refused: {item['email']}: {item['reason']}")
    if refused:
        raise typer.Exit(1)


def _say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)
