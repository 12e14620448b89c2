"""Signing in with an API token, and out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from campaignd.store.tokens import TOKEN_PREFIX, token_by_plain
from campaignd.web.auth import ViewerDep, login_url, safe_next
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.rendering import redirect, render
from campaignd.web.session import load_session, services_of

router = APIRouter(prefix="/admin", route_class=AdminRoute)


@router.get("")
async def home(request: Request) -> Response:
    return await redirect(request, "/admin/marketing/campaigns")


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    session = await load_session(request)
    if session.token_id is not None:
        return await redirect(request, safe_next(next))
    return await render(request, "login.html", {"next": next or "", "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await checked_form(request)
    token = str(form.get("token") or "").strip()
    next_url = str(form.get("next") or "")
    row = None
    if token.startswith(TOKEN_PREFIX):
        async with services_of(request).database.connection() as connection:
            row = await token_by_plain(connection, token)
    if row is None:
        error = (
            "That token is not valid or has been revoked."
            if token
            else "Paste your API token to sign in."
        )
        return await render(
            request, "login.html", {"next": next_url, "error": error}, status_code=401
        )
    session = await load_session(request)
    session.sign_in(int(row["id"]))
    return await redirect(request, safe_next(next_url))


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    await checked_form(request)
    viewer.session.sign_out()
    viewer.session.flash("info", "You are signed out.")
    return await redirect(request, login_url())
