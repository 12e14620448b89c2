"""The admin UI: server-rendered pages under ``/admin`` (Jinja2, htmx, one CSS file)."""

from __future__ import annotations

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
