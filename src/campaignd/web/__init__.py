"""The admin UI: server-rendered pages under ``/admin``."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the admin pages and their static files on ``app``."""
