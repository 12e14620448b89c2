"""The admin UI: server-rendered pages under ``/admin`` (Jinja2, htmx, one CSS file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from campaignd.web.rendering import STATIC_DIR
from campaignd.web.routes import admin_router


def install(app: FastAPI) -> None:
    """Mount the admin pages and their static files on ``app``.

    The pages use ``app.state.services`` (a ``campaignd.actions.services.Services``).
    """
    app.mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="admin-static")
    app.include_router(admin_router())
    outer_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with outer_lifespan(application) as state:
            try:
                yield state
            finally:
                for name in ("login_throttle", "subscribe_throttle", "test_send_throttle"):
                    throttle = getattr(app.state, name, None)
                    if throttle is not None:
                        setattr(app.state, name, None)
                        await throttle.close()

    app.router.lifespan_context = lifespan
