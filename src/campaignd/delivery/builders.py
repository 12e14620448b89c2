"""Each sending campaign's message builder, compiled once per worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.delivery import dkim
from campaignd.delivery.encoding import mailbox
from campaignd.delivery.messages import CampaignContent, MessageBuilder, render_limits
from campaignd.delivery.rendering import INLINE_TIMEOUT, CampaignBuilders, RenderThread
from campaignd.delivery.tracking import Tracking
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.addresses import domain_of
from campaignd.domain.dkim import DkimProblem, signing_domains
from campaignd.domain.templates import TemplateProblem
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store.campaigns import get_campaign
from campaignd.store.database import Database
from campaignd.store.dkim_keys import SealedKey, keys_for_domains
from campaignd.store.secrets import installation_id, instance_secret
from campaignd.store.tracking import save_links

logger = logging.getLogger("campaignd.delivery")

Built = CampaignBuilders | TemplateProblem


class Builders:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        thread: RenderThread,
        message_builder: type[MessageBuilder] = MessageBuilder,
        track: bool = True,
    ) -> None:
        """``message_builder``: the class that lays out the messages (a test send's
        ``delivery.proofs.ProofBuilder`` marks its subject and makes its links inert);
        ``track``: apply the campaign's click and open tracking (test sends do not: their
        links stay as written and nothing of the campaign's is stored)."""
        self.database = database
        self.settings = settings
        self.thread = thread
        self.message_builder = message_builder
        self.track = track
        self._secret: str | None = None
        self._dkim_secret: str | None = None
        self._installation: str | None = None
        self._built: dict[int, Built] = {}

    def get(self, campaign_id: int) -> Built | None:
        """The builder made by ``load``, if any."""
        return self._built.get(campaign_id)

    async def load(self, campaign_id: int) -> Built | None:
        """The campaign's builder (templates compiled and tried once, in the render thread),
        or why it cannot build; None when the campaign is gone."""
        if campaign_id in self._built:
            return self._built[campaign_id]
        if self._secret is None:
            self._secret = await instance_secret(self.database, SECRET_NAME)
        if self._installation is None:
            self._installation = await installation_id(self.database)
        async with self.database.connection() as connection:
            row = await get_campaign(connection, campaign_id)
            if row is None:
                return None
            content = CampaignContent.from_row(row, default_from=self.settings.from_address)
            keys = await self._signing_keys(connection, content)
        tracking = self._tracking(row)
        if keys and self._dkim_secret is None:
            self._dkim_secret = await instance_secret(self.database, dkim.SECRET_NAME)
        built: Built
        try:
            built = await self.thread.run(
                self._build,
                content,
                self._secret,
                self._installation,
                keys,
                self._dkim_secret,
                tracking,
            )
        except (TemplateProblem, ValueError) as error:
            built = _problem(error)
            log_event(
                logger,
                "campaign cannot be built",
                level=logging.ERROR,
                campaign_id=campaign_id,
                error=str(built),
            )
        else:
            _log_signing(campaign_id, content, built)
            if tracking is not None and tracking.links:
                async with self.database.transaction() as connection:
                    await save_links(connection, campaign_id, tracking.links)
        self._built[campaign_id] = built
        return built

    def _tracking(self, row: Mapping[str, Any]) -> Tracking | None:
        """The campaign's click and open tracking, or None when it tracks neither."""
        if not self.track or not (row.get("track_clicks") or row.get("track_opens")):
            return None
        assert self._secret is not None
        return Tracking(
            campaign_id=int(row["id"]),
            public_url=self.settings.public_url,
            secret=self._secret,
            clicks=bool(row.get("track_clicks")),
            opens=bool(row.get("track_opens")),
        )

    async def _signing_keys(
        self, connection: AsyncConnection, content: CampaignContent
    ) -> list[SealedKey]:
        """The DKIM keys of the From domain, or of its nearest parent that has keys."""
        try:
            domain = domain_of(mailbox(content.from_address)[1])
        except ValueError:
            return []  # the builder refuses the address
        return await keys_for_domains(
            connection, organization_id=content.organization_id, domains=signing_domains(domain)
        )

    def _build(
        self,
        content: CampaignContent,
        secret: str,
        installation: str,
        keys: list[SealedKey],
        dkim_secret: str | None,
        tracking: Tracking | None = None,
    ) -> CampaignBuilders:
        """Compile and try the templates under the full limits, and under the inline
        deadline (``delivery.rendering``), and open the DKIM keys; user templates, so in
        the render thread."""
        signer = _signer(keys, dkim_secret) if keys else None
        limits = render_limits(self.settings)
        full = self.message_builder(
            content,
            public_url=self.settings.public_url,
            unsubscribe_secret=secret,
            installation=installation,
            limits=limits,
            bounce_domain=self.settings.bounce_domain,
            tracking=tracking,
        )
        try:
            inline = self.message_builder(
                content,
                public_url=self.settings.public_url,
                unsubscribe_secret=secret,
                installation=installation,
                limits=replace(limits, timeout=min(limits.timeout, INLINE_TIMEOUT)),
                bounce_domain=self.settings.bounce_domain,
                tracking=tracking,
            )
        except TemplateProblem:
            return CampaignBuilders(full=full, inline=None, signer=signer)
        return CampaignBuilders(full=full, inline=inline, signer=signer)

    def forget(self, campaign_id: int) -> None:
        self._built.pop(campaign_id, None)
        self.thread.forget(campaign_id)


def _signer(keys: list[SealedKey], secret: str | None) -> dkim.Signer:
    """The keys opened (once per campaign and worker); TemplateProblem when one does not
    open, so that the campaign's messages fail with that reason instead of going unsigned."""
    assert secret is not None
    try:
        return dkim.Signer(
            [
                dkim.SigningKey.from_pem(
                    sealed.key.domain,
                    sealed.key.selector,
                    dkim.unseal(
                        sealed.sealed,
                        secret,
                        dkim.seal_context(
                            sealed.key.organization_id, sealed.key.domain, sealed.key.selector
                        ),
                    ),
                )
                for sealed in keys
            ]
        )
    except DkimProblem as problem:
        raise TemplateProblem("dkim", str(problem)) from None


def _problem(error: Exception) -> TemplateProblem:
    return error if isinstance(error, TemplateProblem) else TemplateProblem("from", str(error))


def _log_signing(campaign_id: int, content: CampaignContent, built: CampaignBuilders) -> None:
    if built.signer is None:
        log_event(
            logger,
            "campaign sent unsigned: no DKIM key for its From domain",
            campaign_id=campaign_id,
            domain=built.full.domain,
        )
        return
    log_event(
        logger,
        "campaign signed with DKIM",
        campaign_id=campaign_id,
        domain=built.signer.domain,
        selectors=",".join(key.selector for key in built.signer.keys),
    )
