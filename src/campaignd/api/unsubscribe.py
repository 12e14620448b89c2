"""Public unsubscribe pages: ``GET /u/{token}`` asks, ``POST /u/{token}`` suppresses.

GET changes nothing (mail scanners prefetch links). POST is the RFC 8058 one-click
endpoint (``List-Unsubscribe=One-Click``) and also what the page's button sends: it
suppresses the address for its organization, writes the audit log, answers 200 without a
redirect, and is harmless when repeated. A token that does not verify gets a 404 page.

``/u/preview`` is where the unsubscribe link of a preview in the admin UI points: it shows
the page and unsubscribes nobody.

Every page carries a strict Content-Security-Policy (nothing loads but its own inline
style, forms post only here, no framing) and sends no referrer.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from campaignd.actions.message_preview import PREVIEW_UNSUBSCRIBE_PATH
from campaignd.actions.unsubscribe import unsubscribe as suppress
from campaignd.delivery.unsubscribe import SECRET_NAME, read_token
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_id
from campaignd.store.secrets import instance_secret
from campaignd.store.suppressions import is_suppressed

router = APIRouter(include_in_schema=False)

STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1f2933;margin:0}
main{max-width:32rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin-top:0}
button{font:inherit;background:#1f2933;color:#fff;border:0;border-radius:8px;
padding:.7rem 1.2rem;cursor:pointer}
.notice{background:#fff4d6;border-radius:8px;padding:.7rem 1rem}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style></head>
<body><main>{content}</main></body></html>"""

STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{STYLE_HASH}'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

FROM_PAGE = "page"
"""The ``via`` field of the page's own form; any other POST is a one-click request."""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    html = PAGE.format(title=escape(title), style=STYLE, content=content)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _not_found() -> HTMLResponse:
    return _page(
        "Link not valid",
        "<h1>This link is not valid</h1><p>Please use the unsubscribe link from the "
        "email exactly as it was sent.</p>",
        status=404,
    )


def _form(action: str) -> str:
    return (
        f'<form method="post" action="{escape(action, quote=True)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<input type="hidden" name="via" value="{FROM_PAGE}">'
        "<button type=submit>Unsubscribe</button></form>"
    )


@router.get(PREVIEW_UNSUBSCRIBE_PATH, response_class=HTMLResponse)
async def preview_page() -> HTMLResponse:
    return _page(
        "Unsubscribe (preview)",
        '<p class="notice">This link comes from a preview in the admin UI. It shows '
        "what the unsubscribe page looks like; it names no one and unsubscribes no one.</p>"
        "<h1>Unsubscribe?</h1><p><strong>The recipient</strong> will no longer receive "
        "emails from this organization.</p>" + _form(PREVIEW_UNSUBSCRIBE_PATH),
    )


@router.post(PREVIEW_UNSUBSCRIBE_PATH, response_class=HTMLResponse)
async def preview_unsubscribe() -> HTMLResponse:
    return _page(
        "Nothing changed (preview)",
        "<h1>Nothing was changed</h1><p>This link comes from a preview in the admin UI, "
        "so nobody was unsubscribed. Each recipient's message carries their own link.</p>",
    )


async def _secret(request: Request, database: Database) -> str:
    secret = getattr(request.app.state, "unsubscribe_secret", None)
    if secret is None:
        secret = await instance_secret(database, SECRET_NAME)
        request.app.state.unsubscribe_secret = secret
    return str(secret)


async def _recipient(request: Request, token: str) -> tuple[Database, int, str, str] | None:
    """(database, organization id, address, organization name) named by a valid token."""
    database: Database = request.app.state.database
    try:
        organization_id, email = read_token(await _secret(request, database), token)
    except ValueError:
        return None
    async with database.connection() as connection:
        organization = await organization_by_id(connection, organization_id)
    if organization is None:
        return None
    return database, organization_id, email, str(organization["name"])


@router.get("/u/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> HTMLResponse:
    found = await _recipient(request, token)
    if found is None:
        return _not_found()
    database, organization_id, email, name = found
    async with database.connection() as connection:
        already = await is_suppressed(connection, organization_id=organization_id, email=email)
    if already:
        return _done(email, name)
    return _page(
        "Unsubscribe",
        f"<h1>Unsubscribe?</h1><p><strong>{escape(email)}</strong> will no longer receive "
        f"emails from {_ending(name)}</p>" + _form(str(request.url.path)),
    )


async def _via(request: Request) -> str:
    """``page`` when the page's own button sent it, else ``one-click``."""
    try:
        form: FormData = await request.form()
    except (HTTPException, MultiPartException) as problem:
        if isinstance(problem, HTTPException) and problem.status_code != 400:
            raise  # too large: 413
        return "one-click"  # a malformed form is still a one-click request
    return FROM_PAGE if form.get("via") == FROM_PAGE else "one-click"


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    found = await _recipient(request, token)
    if found is None:
        return _not_found()
    database, organization_id, email, name = found
    await suppress(database, organization_id=organization_id, email=email, via=await _via(request))
    return _done(email, name)


def _ending(name: str) -> str:
    """The organization's name, escaped, closing a sentence: "Acme Inc." takes no second
    full stop."""
    return escape(name) if name.rstrip().endswith((".", "!", "?")) else f"{escape(name)}."


def _done(email: str, name: str) -> HTMLResponse:
    return _page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p><strong>{escape(email)}</strong> will no longer "
        f"receive emails from {_ending(name)}</p>",
    )
