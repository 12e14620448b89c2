"""The OpenAPI schema says what the service really answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, open_api


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def test_metrics_are_documented_as_prometheus_text(api: Api) -> None:
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    answer = schema["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/plain"]
    metrics = await api.call(None, "GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "campaignd_" in metrics.text


async def test_the_unsubscribe_pages_are_always_mounted(api: Api) -> None:
    page = await api.client.get("/u/not-a-token")
    assert page.status_code in {400, 404}
    assert page.headers["content-type"].startswith("text/html")
