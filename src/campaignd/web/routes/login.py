"""Signing in with an API token, and out."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Request, Response

from campaignd.actions import sessions
from campaignd.logs import log_event
from campaignd.web.auth import ViewerDep, login_url, safe_next
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.rendering import redirect, render
from campaignd.web.session import leave_session, load_session, services_of, start_session
from campaignd.web.throttle import client_key, login_throttle

router = APIRouter(prefix="/admin", route_class=AdminRoute)
logger = logging.getLogger("campaignd.web")


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("")
async def home(request: Request) -> Response:
    return await redirect(request, "/admin/marketing/campaigns")


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    session = await load_session(request)
    if session.signed_in:
        return await redirect(request, safe_next(next))
    return await render(request, "login.html", {"next": next or "", "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await checked_form(request)
    token = str(form.get("token") or "").strip()
    next_url = str(form.get("next") or "")
    client = client_key(client_of(request))
    throttle = login_throttle(request)
    wait = await throttle.retry_after(client)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        error = (
            "Too many wrong tokens from your address. "
            f"Try again in {seconds} seconds; nothing was checked."
        )
        return await render(
            request,
            "login.html",
            {"next": next_url, "error": error},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
    session = await load_session(request)
    signed_in = await sessions.sign_in(
        services_of(request), token, client=client_of(request), replacing=session.session_id
    )
    if signed_in is None:
        await throttle.failed(client)
        log_event(logger, "sign-in refused", level=logging.WARNING, client=client)
        error = (
            "That token is not valid or has been revoked."
            if token
            else "Paste your API token to sign in."
        )
        return await render(
            request, "login.html", {"next": next_url, "error": error}, status_code=401
        )
    await start_session(request, *signed_in)
    return await redirect(request, safe_next(next_url))


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    await checked_form(request)
    assert viewer.session.session_id is not None
    await sessions.sign_out(
        services_of(request), viewer.session.session_id, client=client_of(request)
    )
    session = await leave_session(request)
    session.flash("info", "You are signed out.")
    return await redirect(request, login_url())
