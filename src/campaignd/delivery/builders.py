"""Each sending campaign's message builder, compiled once per worker."""

from __future__ import annotations

import logging
from dataclasses import replace

from campaignd.delivery.messages import CampaignContent, MessageBuilder, render_limits
from campaignd.delivery.rendering import INLINE_TIMEOUT, CampaignBuilders, RenderThread
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.templates import TemplateProblem
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store.campaigns import get_campaign
from campaignd.store.database import Database
from campaignd.store.secrets import installation_id, instance_secret

logger = logging.getLogger("campaignd.delivery")

Built = CampaignBuilders | TemplateProblem


class Builders:
    def __init__(self, database: Database, settings: Settings, *, thread: RenderThread) -> None:
        self.database = database
        self.settings = settings
        self.thread = thread
        self._secret: str | None = None
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
        built: Built
        try:
            built = await self.thread.run(self._build, content, self._secret, self._installation)
        except (TemplateProblem, ValueError) as error:
            built = (
                error if isinstance(error, TemplateProblem) else TemplateProblem("from", str(error))
            )
            log_event(
                logger,
                "campaign cannot be built",
                level=logging.ERROR,
                campaign_id=campaign_id,
                error=str(built),
            )
        self._built[campaign_id] = built
        return built

    def _build(self, content: CampaignContent, secret: str, installation: str) -> CampaignBuilders:
        """Compile and try the templates under the full limits, and under the inline
        deadline (``delivery.rendering``); user templates, so in the render thread."""
        limits = render_limits(self.settings)
        full = MessageBuilder(
            content,
            public_url=self.settings.public_url,
            unsubscribe_secret=secret,
            installation=installation,
            limits=limits,
        )
        try:
            inline = MessageBuilder(
                content,
                public_url=self.settings.public_url,
                unsubscribe_secret=secret,
                installation=installation,
                limits=replace(limits, timeout=min(limits.timeout, INLINE_TIMEOUT)),
            )
        except TemplateProblem:
            return CampaignBuilders(full=full, inline=None)
        return CampaignBuilders(full=full, inline=inline)

    def forget(self, campaign_id: int) -> None:
        self._built.pop(campaign_id, None)
        self.thread.forget(campaign_id)
