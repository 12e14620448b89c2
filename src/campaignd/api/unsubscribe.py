"""The unsubscribe link's pages: ``GET /u/{token}`` is the preference centre, ``POST
/u/{token}`` changes it.

GET changes nothing (mail scanners prefetch links). It shows the organization's lists the
address belongs to, each with a button to leave it, a button to unsubscribe from
everything, and a way to stay as one is.

POST is, first of all, the RFC 8058 one-click endpoint (``List-Unsubscribe=One-Click``):
without a ``choice`` from the page it unsubscribes the address from everything the
organization sends (suppression ``unsubscribed``, every list left), writes the audit log,
answers 200 without a redirect, and is harmless when repeated. The page's own buttons
send a ``choice`` (``leave`` with a ``list``, or ``everything``) and are answered with a
303 back to the page (post, redirect, get). A token that does not verify gets a 404 page.

``/u/preview`` is where the unsubscribe link of a preview in the admin UI points: it shows
the page and unsubscribes nobody.

Every page carries a strict Content-Security-Policy (see ``public_pages``).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from campaignd.actions.message_preview import PREVIEW_UNSUBSCRIBE_PATH
from campaignd.actions.unsubscribe import Preferences, leave_list, preferences
from campaignd.actions.unsubscribe import unsubscribe as suppress
from campaignd.api.public_pages import ending, link_secret, not_found, page, see_other
from campaignd.delivery.unsubscribe import read_token
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_id

router = APIRouter(include_in_schema=False)

FROM_PAGE = "page"
"""The ``via`` field of the page's own forms; any other POST is a one-click request."""


def _form(action: str, *, choice: str | None = "everything", label: str = "Unsubscribe") -> str:
    """The form that unsubscribes from everything; its fields make it a valid one-click
    request too."""
    chosen = f'<input type="hidden" name="choice" value="{choice}">' if choice else ""
    return (
        f'<form method="post" action="{escape(action, quote=True)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<input type="hidden" name="via" value="{FROM_PAGE}">{chosen}'
        f"<button type=submit>{escape(label)}</button></form>"
    )


def _leave_form(action: str, list_id: int) -> str:
    return (
        f'<form method="post" action="{escape(action, quote=True)}">'
        f'<input type="hidden" name="via" value="{FROM_PAGE}">'
        '<input type="hidden" name="choice" value="leave">'
        f'<input type="hidden" name="list" value="{list_id}">'
        '<button type=submit class="secondary">Leave</button></form>'
    )


@router.get(PREVIEW_UNSUBSCRIBE_PATH, response_class=HTMLResponse)
async def preview_page() -> HTMLResponse:
    return page(
        "Unsubscribe (preview)",
        '<p class="notice">This link comes from a preview in the admin UI. It shows '
        "what the unsubscribe page looks like; it names no one and unsubscribes no one.</p>"
        "<h1>Unsubscribe?</h1><p><strong>The recipient</strong> will no longer receive "
        "emails from this organization.</p>" + _form(PREVIEW_UNSUBSCRIBE_PATH, choice=None),
    )


@router.post(PREVIEW_UNSUBSCRIBE_PATH, response_class=HTMLResponse)
async def preview_unsubscribe() -> HTMLResponse:
    return page(
        "Nothing changed (preview)",
        "<h1>Nothing was changed</h1><p>This link comes from a preview in the admin UI, "
        "so nobody was unsubscribed. Each recipient's message carries their own link.</p>",
    )


async def _recipient(request: Request, token: str) -> tuple[Database, int, str, str] | None:
    """(database, organization id, address, organization name) named by a valid token."""
    database: Database = request.app.state.database
    try:
        organization_id, email = read_token(await link_secret(request, database), token)
    except ValueError:
        return None
    async with database.connection() as connection:
        organization = await organization_by_id(connection, organization_id)
    if organization is None:
        return None
    return database, organization_id, email, str(organization["name"])


def _list_item(action: str, item_id: int, name: str, description: str | None, status: str) -> str:
    about = f"<br><small>{escape(description)}</small>" if description else ""
    waiting = " <small>(not confirmed yet)</small>" if status == "unconfirmed" else ""
    return (
        f"<li><span><strong>{escape(name)}</strong>{waiting}{about}</span>"
        f"{_leave_form(action, item_id)}</li>"
    )


def _centre(action: str, name: str, chosen: Preferences, notice: str) -> HTMLResponse:
    email = escape(chosen.email)
    stay = (
        f'<p><a href="{escape(action, quote=True)}?stay=1">Stay subscribed</a>: change nothing.</p>'
    )
    if not chosen.lists:
        return page(
            "Unsubscribe",
            f"{notice}<h1>Unsubscribe?</h1><p><strong>{email}</strong> will no longer "
            f"receive emails from {ending(name)}</p>" + _form(action) + stay,
        )
    items = "".join(
        _list_item(action, item.list_id, item.name, item.description, item.status)
        for item in chosen.lists
    )
    return page(
        "Your subscriptions",
        f"{notice}<h1>Your subscriptions</h1><p><strong>{email}</strong> is on these lists "
        f"of {ending(name)} Leave any of them:</p>"
        f'<ul class="lists">{items}</ul>'
        f"<h2>Unsubscribe from everything?</h2><p><strong>{email}</strong> will no longer "
        f"receive emails from {ending(name)}</p>"
        + _form(action, label="Unsubscribe from everything")
        + stay,
    )


def _whole(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


@router.get("/u/{token}", response_class=HTMLResponse)
async def confirm_page(
    request: Request, token: str, left: str | None = None, stay: str | None = None
) -> HTMLResponse:
    found = await _recipient(request, token)
    if found is None:
        return not_found()
    database, organization_id, email, name = found
    chosen = await preferences(
        database, organization_id=organization_id, email=email, left=_whole(left)
    )
    if chosen.suppressed:
        return _done(email, name)
    notice = ""
    if chosen.left is not None:
        notice = (
            f'<p class="done">You left <strong>{escape(chosen.left)}</strong>; '
            "it sends you nothing more.</p>"
        )
    elif stay is not None:
        notice = '<p class="done">Nothing changed: you stay subscribed.</p>'
    return _centre(str(request.url.path), name, chosen, notice)


async def _fields(request: Request) -> FormData | None:
    """The POST's form fields; None when the body is not a readable form."""
    try:
        return await request.form()
    except (HTTPException, MultiPartException) as problem:
        if isinstance(problem, HTTPException) and problem.status_code != 400:
            raise  # too large: 413
        return None  # a malformed form is still a one-click request


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> Response:
    found = await _recipient(request, token)
    if found is None:
        return not_found()
    database, organization_id, email, name = found
    form = await _fields(request)
    via = FROM_PAGE if form is not None and form.get("via") == FROM_PAGE else "one-click"
    choice = form.get("choice") if form is not None and via == FROM_PAGE else None
    path = str(request.url.path)
    if choice == "leave":
        list_id = _whole(str(form.get("list") or "")) if form is not None else None
        if list_id is not None and await leave_list(
            database, organization_id=organization_id, email=email, list_id=list_id
        ):
            return see_other(f"{path}?left={list_id}")
        return see_other(path)
    if choice == "stay":
        return see_other(f"{path}?stay=1")
    await suppress(database, organization_id=organization_id, email=email, via=via)
    if choice == "everything":
        return see_other(path)
    return _done(email, name)


def _done(email: str, name: str) -> HTMLResponse:
    return page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p><strong>{escape(email)}</strong> will no longer "
        f"receive emails from {ending(name)}</p>",
    )
