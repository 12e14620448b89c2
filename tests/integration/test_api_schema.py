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


def refs_in(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in refs_in(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs_in(item)]
    return []


async def test_every_reference_in_the_schema_resolves(api: Api) -> None:
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    names = {f"#/components/schemas/{name}" for name in schema["components"]["schemas"]}
    assert set(refs_in(schema)) <= names


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/admin/marketing/campaigns/{campaign_id}"),
        ("delete", "/api/admin/marketing/campaigns/{campaign_id}"),
        ("post", "/api/admin/marketing/campaigns/{campaign_id}/recipients"),
        ("post", "/api/admin/marketing/campaigns/{campaign_id}/execute"),
    ],
)
async def test_status_dependent_routes_document_409(api: Api, method: str, path: str) -> None:
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    assert "409" in schema["paths"][path][method]["responses"]
