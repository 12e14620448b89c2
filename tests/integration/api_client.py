"""Helpers for the HTTP API tests: an app on a real database, organizations, tokens, reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from campaignd.actions.services import Services
from campaignd.api.app import create_app
from campaignd.settings import Settings
from campaignd.store import organizations, tokens
from campaignd.store.database import Database
from campaignd.store.rows import Row, every
from campaignd.store.schema import audit_log, campaigns, deliveries, runs, suppressions
from campaignd.wakeups import LocalWakeups

PREFIX = "/api/admin/marketing"
WHO = ("platform", "acme_admin", "acme_viewer", "globex_admin", "revoked")


def future(days: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def campaign_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Spring news", "subject": "Hello", "textBody": "Hi"}
    return body | fields


@dataclass
class Api:
    client: httpx.AsyncClient
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> Database:
        return self.services.database

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        token = self.tokens.get(who, who)
        return {"Authorization": f"Bearer {token}"}

    async def call(self, who: str | None, method: str, path: str, **options: Any) -> httpx.Response:
        """A request as ``who`` (a name in ``WHO``, a raw token, or None for no token)."""
        headers = self.headers(who) | options.pop("headers", {})
        url = (
            path
            if path.startswith(("/healthz", "/readyz", "/metrics", "/openapi"))
            else PREFIX + path
        )
        return await self.client.request(method, url, headers=headers, **options)

    async def create(self, who: str = "acme_admin", **fields: Any) -> dict[str, Any]:
        if who == "platform":
            fields.setdefault("organization", "acme")
        response = await self.call(who, "POST", "/campaigns", json=campaign_body(**fields))
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def campaign_in(self, state: str, **fields: Any) -> int:
        """A campaign of acme with two recipients, brought to ``state`` over the API."""
        fields.setdefault("recipients", ["ada@example.com", "grace@example.org"])
        campaign_id = int((await self.create("platform", **fields))["id"])
        steps = {
            "draft": [],
            "scheduled": [("schedule", {"scheduledFor": future()})],
            "sending": [("execute", None)],
            "paused": [("execute", None), ("pause", None)],
            "cancelled": [("schedule", {"scheduledFor": future()}), ("cancel", None)],
        }[state]
        for action, body in steps:
            response = await self.call(
                "platform", "POST", f"/campaigns/{campaign_id}/{action}", json=body
            )
            assert response.status_code < 300, response.text
        return campaign_id

    async def rows(self, table: Any, *conditions: Any) -> list[Row]:
        async with self.database.connection() as connection:
            statement = select(table).where(*conditions)
            return every(await connection.execute(statement))

    async def campaign_row(self, campaign_id: int) -> Row | None:
        found = await self.rows(campaigns, campaigns.c.id == campaign_id)
        return found[0] if found else None

    async def audit(self) -> list[Row]:
        return await self.rows(audit_log)

    async def snapshot(self) -> dict[str, Any]:
        """Everything a refused request must leave as it was."""
        async with self.database.connection() as connection:
            counts = {
                table.name: int(
                    (await connection.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in (campaigns, deliveries, runs, audit_log, suppressions)
            }
        state = await self.rows(campaigns)
        return {"counts": counts, "campaigns": sorted(state, key=lambda row: row["id"])}


async def _seed(api: Api) -> None:
    async with api.database.transaction() as connection:
        acme = await organizations.create_organization(connection, slug="acme", name="Acme")
        globex = await organizations.create_organization(connection, slug="globex", name="Globex")
        grants = {
            "platform": ("platform_admin", None),
            "acme_admin": ("organization_admin", acme["id"]),
            "acme_viewer": ("viewer", acme["id"]),
            "globex_admin": ("organization_admin", globex["id"]),
            "revoked": ("organization_admin", acme["id"]),
        }
        for name, (role, organization_id) in grants.items():
            row, token = await tokens.create_token(
                connection, role=role, organization_id=organization_id, name=name
            )
            api.tokens[name] = token
            if name == "revoked":
                await tokens.revoke_token(connection, int(row["id"]))


@asynccontextmanager
async def open_api(database: Database, settings: Settings, **overrides: Any) -> AsyncIterator[Api]:
    """The app of ``create_app`` on ``database``, with organizations acme and globex and a
    token per entry of ``WHO``. ``overrides`` change settings (JWT keys, body limit...)."""
    services = Services(database, settings.model_copy(update=overrides), LocalWakeups())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://campaignd.test") as client:
        api = Api(client=client, services=services)
        await _seed(api)
        yield api
