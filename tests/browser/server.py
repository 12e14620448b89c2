"""A live admin UI for browser tests and screenshots: uvicorn in a thread, a SQLite file.

Also the helpers that seed it (organizations, tokens, campaigns) and that move campaigns
along: the real scheduler and delivery worker when they are importable, otherwise the
store's own statements (start, fan out, mark sent) so the pages still have something to show.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select, update

import campaignd.web
from campaignd.actions import campaigns as actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.api import public_images
from campaignd.domain.lifecycle import DeliveryStatus, Trigger
from campaignd.domain.recipients import from_json
from campaignd.runtime import burst
from campaignd.settings import Settings
from campaignd.store import organizations, tokens
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.runs import finish_if_done, refresh_run_counts, start_campaign
from campaignd.store.schema import campaigns, deliveries
from campaignd.store.waiting import QUEUED
from campaignd.wakeups import LocalWakeups

PLATFORM_ADMIN = Principal(actor="token:ops", role=Role.PLATFORM_ADMIN)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_app(settings: Settings) -> FastAPI:
    services = Services(Database(settings.database_url), settings, LocalWakeups())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # close the pooled connections while this server's loop still runs: aiosqlite
        # threads finishing after the loop has closed would fail a later test
        await services.database.dispose()

    app = FastAPI(lifespan=lifespan)
    app.state.services = services
    campaignd.web.install(app)
    app.include_router(public_images.router)  # the images page shows them
    return app


class LiveServer:
    """The admin UI served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the admin UI did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class Seeder:
    """Synchronous helpers over the same database (their own pool, loop and thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(self, work: Any) -> Any:
        async def main() -> Any:
            database = Database(self.settings.database_url)
            try:
                return await work(Services(database, self.settings, LocalWakeups()))
            finally:
                await database.dispose()

        # in a thread of its own: Playwright's sync API keeps an event loop running here
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, main()).result()

    def organization(self, slug: str, name: str | None = None) -> int:
        async def work(services: Services) -> int:
            async with services.database.transaction() as connection:
                row = await organizations.create_organization(
                    connection, slug=slug, name=name or slug.title()
                )
            return int(row["id"])

        return int(self.run(work))

    def token(self, role: str, organization_id: int | None, name: str) -> str:
        async def work(services: Services) -> str:
            async with services.database.transaction() as connection:
                _, plain = await tokens.create_token(
                    connection, role=role, organization_id=organization_id, name=name
                )
            return plain

        return str(self.run(work))

    def campaign(
        self,
        organization: str,
        name: str,
        emails: list[str],
        *,
        scheduled_for: datetime | None = None,
        timezone: str | None = None,
        subject: str = "News for {{ first_name | default('you') }}",
        html_body: str = "<h1>Hello {{ first_name | default('there') }}</h1><p>Our news.</p>",
    ) -> int:
        async def work(services: Services) -> int:
            content = CampaignContent(
                name=name,
                subject=subject,
                html_body=html_body,
                text_body="Hello {{ first_name | default('there') }}\n\nOur news.",
            )
            view, _ = await actions.create_campaign(
                services,
                PLATFORM_ADMIN,
                content,
                organization=organization,
                recipient_list=from_json(emails),
                scheduled_for=scheduled_for,
                timezone=timezone,
            )
            return int(view["id"])

        return int(self.run(work))

    def execute(self, campaign_id: int) -> int:
        async def work(services: Services) -> int:
            run = await actions.execute(services, PLATFORM_ADMIN, campaign_id)
            return int(run["id"])

        return int(self.run(work))

    def campaign_count(self) -> int:
        async def work(services: Services) -> int:
            async with services.database.connection() as connection:
                return int(
                    await connection.scalar(select(func.count()).select_from(campaigns)) or 0
                )

        return int(self.run(work))

    def status(self, campaign_id: int) -> str:
        async def work(services: Services) -> str:
            async with services.database.connection() as connection:
                value = await connection.scalar(
                    select(campaigns.c.status).where(campaigns.c.id == campaign_id)
                )
            return str(value)

        return str(self.run(work))

    def deliver_by_hand(
        self,
        campaign_id: int,
        *,
        sent: int | None = None,
        hours: int = 1,
        finish: bool = True,
        failed: int = 0,
    ) -> None:
        """Start (when due or not yet started), fan out, mark ``sent`` deliveries sent.

        ``hours`` spreads their ``sent_at`` over that many past hours (for the chart).
        """
        rules = CooldownRules(self.settings.cooldown_days, self.settings.cooldown_scope)

        async def work(services: Services) -> None:
            now = utcnow()
            async with services.database.transaction() as connection:
                await start_campaign(
                    connection, campaign_id, trigger=Trigger.SCHEDULE, actor=None, now=now
                )
                await fan_out(connection, campaign_id, rules=rules, now=now)
                queued = [
                    int(value)
                    for value in await connection.scalars(
                        select(deliveries.c.id)
                        .where(
                            deliveries.c.campaign_id == campaign_id,
                            deliveries.c.status == QUEUED,
                        )
                        .order_by(deliveries.c.id)
                    )
                ]
                count = len(queued) if sent is None else min(sent, len(queued))
                for index, delivery_id in enumerate(queued[:count]):
                    hour_back = hours - 1 - (index * hours // max(count, 1))
                    await connection.execute(
                        update(deliveries)
                        .where(deliveries.c.id == delivery_id)
                        .values(
                            status=DeliveryStatus.SENT.value,
                            attempts=1,
                            sent_at=now - timedelta(hours=hour_back, minutes=index % 50),
                        )
                    )
                for delivery_id in queued[count : count + failed]:
                    await connection.execute(
                        update(deliveries)
                        .where(deliveries.c.id == delivery_id)
                        .values(
                            status=DeliveryStatus.FAILED.value,
                            attempts=5,
                            last_error="550 5.1.1 mailbox unavailable",
                        )
                    )
                await refresh_run_counts(connection, campaign_id)
                if finish:
                    await finish_if_done(connection, campaign_id, now=utcnow())

        self.run(work)

    def drive_pipeline(self) -> None:
        """The real scheduler and workers drain what is due now (``serve --burst``)."""

        async def work(services: Services) -> None:
            await burst(services.settings, role="all")

        self.run(work)
