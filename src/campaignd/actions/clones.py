"""Clone a campaign: a new draft with the same content and recipients, to send again."""

from __future__ import annotations

from campaignd.actions.campaigns import _audit, _campaign_in_scope, _view
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.store import campaign_targets, campaigns, recipients
from campaignd.store.rows import Row

NAME_LENGTH = 200
COPY_SUFFIX = " (copy)"


def clone_name(name: str) -> str:
    """``Winter sale (copy)``, shortened to fit the name's 200 characters."""
    return name[: NAME_LENGTH - len(COPY_SUFFIX)] + COPY_SUFFIX


async def clone_campaign(
    services: Services, principal: Principal, campaign_id: int, *, with_recipients: bool = True
) -> Row:
    """A draft with the campaign's content, its lists and segments (and its recipients
    unless ``with_recipients`` is false), in any status of the source.

    A campaign that started holds its audience among its recipients: its copy's recipients
    include the members its lists had then (``with_recipients=False`` leaves them to the
    lists as they are when the copy starts).

    The copy is never scheduled and has no history: its recipients are all queued again,
    and the cooldown decides at its start who may be mailed, as for any campaign.
    """
    principal.require_change()
    async with services.database.transaction() as connection:
        source = await _campaign_in_scope(connection, principal, campaign_id)
        copy_id = await campaigns.copy_campaign(
            connection, campaign_id, name=clone_name(str(source["name"])), actor=principal.actor
        )
        targets = await campaign_targets.target_ids(connection, campaign_id)
        await campaign_targets.set_lists(connection, copy_id, targets.list_ids)
        await campaign_targets.set_segments(connection, copy_id, targets.segment_ids)
        copied = (
            await recipients.copy_recipients(connection, campaign_id, copy_id)
            if with_recipients
            else 0
        )
        await _audit(
            connection,
            principal,
            "clone",
            copy_id,
            int(source["organization_id"]),
            detail={"source": campaign_id, "recipients": copied},
        )
        return await _view(connection, copy_id)
