"""Liveness, readiness (each dependency) and Prometheus metrics; no token needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

import campaignd.metrics  # noqa: F401  (registers the instance's metrics)
from campaignd.api.auth import ServicesDep
from campaignd.redis_client import connect_redis
from campaignd.settings import Settings
from campaignd.store.database import Database

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


async def check_database(database: Database) -> None:
    async with database.connection() as connection:
        await connection.execute(text("SELECT 1"))


async def check_redis(url: str, settings: Settings) -> None:
    client = connect_redis(url, settings)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _timed(name: str, check: Coroutine[Any, Any, None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, timeout=CHECK_TIMEOUT)
    except Exception as error:
        reason = "no answer in time" if isinstance(error, TimeoutError) else str(error)
        return {"name": name, "ok": False, "error": f"{type(error).__name__}: {reason}"}
    return {"name": name, "ok": True, "seconds": round(time.perf_counter() - started, 4)}


def _checks(database: Database, settings: Settings) -> dict[str, Coroutine[Any, Any, None]]:
    checks: dict[str, Coroutine[Any, Any, None]] = {"database": check_database(database)}
    if settings.redis_url:
        checks["redis"] = check_redis(settings.redis_url, settings)
    return checks


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """200 when every dependency answers (database; Redis when REDIS_URL is set), else 503.

    A process that runs a scheduler also says whether it leads or waits for the leader
    lock (``scheduler``); waiting is normal for all but one instance and never makes it
    unready.
    """
    checks = _checks(services.database, services.settings)
    results = await asyncio.gather(*(_timed(name, check) for name, check in checks.items()))
    report = {str(result.pop("name")): result for result in results}
    failing = sorted(name for name, result in report.items() if not result["ok"])
    body: dict[str, object] = {"checks": report}
    if services.scheduler_lock is not None:
        body["scheduler"] = services.scheduler_lock.describe()  # informational only
    if failing:
        detail = f"not ready: {', '.join(failing)} did not answer"
        return JSONResponse({"detail": detail, **body}, status_code=503)
    return JSONResponse({"status": "ready", **body})


METRICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Prometheus text exposition format",
        "content": {
            "text/plain": {
                "schema": {"type": "string"},
                "example": "# TYPE campaignd_deliveries_total counter\n"
                'campaignd_deliveries_total{outcome="sent"} 42.0\n',
            }
        },
    }
}


@router.get("/metrics", response_class=PlainTextResponse, responses=METRICS_RESPONSE)
async def metrics() -> Response:
    """Prometheus metrics of this instance (text, not JSON)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
