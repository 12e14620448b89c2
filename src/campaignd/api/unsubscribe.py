"""Public unsubscribe pages: ``GET /u/{token}`` asks, ``POST /u/{token}`` suppresses.

GET changes nothing (mail scanners prefetch links). POST is the RFC 8058 one-click
endpoint (``List-Unsubscribe=One-Click``) and also what the page's button sends: it
suppresses the address for its organization, answers 200 without a redirect, and is
harmless when repeated. A token that does not verify gets a 404 page.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from campaignd.delivery.unsubscribe import SECRET_NAME, read_token
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_id
from campaignd.store.secrets import instance_secret
from campaignd.store.suppressions import add_suppressions, is_suppressed

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1f2933;margin:0}}
main{{max-width:32rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.08)}}
h1{{font-size:1.4rem;margin-top:0}}
button{{font:inherit;background:#1f2933;color:#fff;border:0;border-radius:8px;
padding:.7rem 1.2rem;cursor:pointer}}
</style></head>
<body><main>{content}</main></body></html>"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    html = PAGE.format(title=escape(title), content=content)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _not_found() -> HTMLResponse:
    return _page(
        "Link not valid",
        "<h1>This link is not valid</h1><p>Please use the unsubscribe link from the "
        "email exactly as it was sent.</p>",
        status=404,
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
    action = escape(str(request.url.path), quote=True)
    return _page(
        "Unsubscribe",
        f"<h1>Unsubscribe?</h1><p><strong>{escape(email)}</strong> will no longer receive "
        f"emails from {escape(name)}.</p>"
        f'<form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<button type=submit>Unsubscribe</button></form>",
    )


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    found = await _recipient(request, token)
    if found is None:
        return _not_found()
    database, organization_id, email, name = found
    async with database.transaction() as connection:
        await add_suppressions(
            connection,
            organization_id=organization_id,
            emails=[email],
            reason="unsubscribed",
            now=utcnow(),
            detail="unsubscribe link",
        )
    return _done(email, name)


def _done(email: str, name: str) -> HTMLResponse:
    return _page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p><strong>{escape(email)}</strong> will no longer "
        f"receive emails from {escape(name)}.</p>",
    )
