"""The public subscribe form and the double opt-in confirmation link.

- ``GET /subscribe/{organization}``: a page with the form (the organization's public
  lists); 404 when the organization has none.
- ``POST /subscribe/{organization}``: an address and list names, form-encoded (the page,
  or the snippet pasted into another site) or JSON. A form post is answered with a 303 to
  the page, which then says what to expect; JSON with 202 and the same words. Per client
  address at most ``SUBSCRIBE_MAX_REQUESTS`` posts per ``SUBSCRIBE_WINDOW`` (then 429 with
  ``Retry-After``). The confirmation message goes out right after the answer, so how long
  the answer takes does not tell whether one was sent.
- ``GET /subscribe/confirm/{token}``: what the link confirms, and a button; changes
  nothing (mail scanners follow links). ``POST`` confirms and redirects back to it.

Every page carries the public pages' strict headers (``public_pages``).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from campaignd.actions.errors import ActionError, NotFound
from campaignd.actions.services import Services
from campaignd.actions.subscriptions import (
    ConfirmationState,
    PublicForm,
    Subscription,
    confirm,
    confirmation_state,
    public_form,
    send_confirmation,
    subscribe,
)
from campaignd.api.content import is_json, media_type, parse_json_body
from campaignd.api.errors import ProblemError, describe_errors
from campaignd.api.list_models import SubscribeAnswer, SubscribeRequest
from campaignd.api.public_pages import HEADERS, ending, not_found, page, see_other
from campaignd.domain.lists import HONEYPOT_FIELD
from campaignd.domain.subscribe_form import FormList, form_html
from campaignd.web.throttle import client_key, subscribe_throttle

router = APIRouter(include_in_schema=False)

SENT = {
    "confirm": (
        "Almost done: please check your inbox",
        "Unless this address is subscribed already, a message with a link to confirm is on "
        "its way. Nothing is sent to you before you confirm.",
    ),
    "subscribed": ("Thank you", "You are subscribed."),
}
"""What the page says after a post, by the kind of lists asked for (never by address)."""


def _kind(subscription: Subscription) -> str:
    return "confirm" if subscription.needs_confirmation else "subscribed"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _form_page(
    form: PublicForm,
    action: str,
    *,
    email: str = "",
    chosen: list[str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lists = [FormList(item.name, item.description) for item in form.lists]
    problem = f'<p class="error">{escape(error)}</p>' if error else ""
    return page(
        f"Subscribe to {form.name}",
        f"<h1>Subscribe to {escape(form.name)}</h1>{problem}"
        + form_html(
            action=action,
            lists=lists,
            email=email,
            chosen=chosen if chosen is not None else [],
            hidden_class="honeypot",
        ),
        status=status,
    )


@router.get("/subscribe/{organization}", response_class=HTMLResponse)
async def subscribe_page(
    request: Request, organization: str, sent: str | None = None
) -> HTMLResponse:
    form = await public_form(_services(request).database, organization)
    if form is None:
        return _no_form()
    path = str(request.url.path)
    if sent in SENT:
        title, text = SENT[sent]
        return page(
            title,
            f'<h1>{escape(title)}</h1><p class="done">{escape(text)}</p>'
            f'<p><a href="{escape(path, quote=True)}">Subscribe another address</a></p>',
        )
    return _form_page(form, path)


def _no_form() -> HTMLResponse:
    return page(
        "No such form",
        "<h1>There is no subscribe form here</h1><p>Please check the address of the page.</p>",
        status=404,
    )


async def _wait(request: Request) -> int:
    """Seconds the client must wait before posting again (0: it may post now; counted)."""
    throttle = subscribe_throttle(request)
    client = client_key(_client(request))
    wait = await throttle.retry_after(client)
    if wait > 0:
        return max(1, math.ceil(wait))
    await throttle.failed(client)
    return 0


async def _json_fields(request: Request) -> SubscribeRequest:
    body = await request.body()
    if not body.strip():
        raise ProblemError(400, "the body is empty; send a JSON object")
    depth = _services(request).settings.max_json_depth
    try:
        value: Any = await parse_json_body(body, max_depth=depth)
    except ValueError as error:
        raise ProblemError(400, f"the body is not valid JSON: {error}") from None
    try:
        return SubscribeRequest.model_validate(value)
    except ValidationError as error:
        raise ProblemError(422, describe_errors(error.errors())) from None


def _form_fields(form: FormData) -> SubscribeRequest:
    return SubscribeRequest.model_construct(
        email=str(form.get("email") or "")[:1000],
        lists=[str(item)[:100] for item in form.getlist("lists")][:100],
        website=str(form.get(HONEYPOT_FIELD) or ""),
    )


@router.post("/subscribe/{organization}", response_model=None)
async def subscribe_post(
    request: Request, organization: str, background: BackgroundTasks
) -> Response:
    kind = media_type(request) or ""
    as_json = is_json(kind)
    if not as_json and kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ProblemError(415, "send the form as application/x-www-form-urlencoded or JSON")
    wait = await _wait(request)
    if wait:
        return _too_many(wait, as_json=as_json, path=str(request.url.path))
    fields = await _json_fields(request) if as_json else _form_fields(await request.form())
    services = _services(request)
    try:
        subscription = await subscribe(
            services,
            organization,
            fields.email,
            fields.lists,
            client=_client(request),
            robot=bool(fields.website.strip()),
        )
    except ActionError as error:
        if as_json:
            raise
        return await _refused(request, organization, fields, error)
    if subscription.pending is not None:
        background.add_task(send_confirmation, services, subscription.pending)
    if as_json:
        title, text = SENT[_kind(subscription)]
        answer = SubscribeAnswer(message=f"{title}. {text}", lists=subscription.lists)
        return JSONResponse(answer.model_dump(by_alias=True), status_code=202, headers=HEADERS)
    return see_other(f"{request.url.path}?sent={_kind(subscription)}")


async def _refused(
    request: Request, organization: str, fields: SubscribeRequest, error: ActionError
) -> HTMLResponse:
    """The form again, with what is wrong (a form post that changed nothing)."""
    form = await public_form(_services(request).database, organization)
    if form is None or isinstance(error, NotFound):
        return _no_form()
    return _form_page(
        form,
        str(request.url.path),
        email=fields.email,
        chosen=fields.lists,
        error=_sentence(error.detail),
        status=error.status_code,
    )


def _sentence(detail: str) -> str:
    """``email: 'x' is not valid`` -> ``'x' is not valid.`` (the field is on the page)."""
    text = detail.split(": ", 1)[1] if ": " in detail else detail
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."


def _too_many(seconds: int, *, as_json: bool, path: str) -> Response:
    detail = f"Too many requests from your address. Try again in {seconds} seconds."
    headers = HEADERS | {"Retry-After": str(seconds)}
    if as_json:
        return JSONResponse({"detail": detail}, status_code=429, headers=headers)
    return page(
        "Too many requests",
        f'<h1>Please wait a moment</h1><p class="error">{escape(detail)}</p>'
        f'<p><a href="{escape(path, quote=True)}">Back to the form</a></p>',
        status=429,
        headers={"Retry-After": str(seconds)},
    )


# -- the confirmation link --------------------------------------------------------------------


def _names(names: list[str]) -> str:
    return ", ".join(f"<strong>{escape(name)}</strong>" for name in names)


def _confirmation_page(path: str, state: ConfirmationState) -> HTMLResponse:
    form_url = f"/subscribe/{quote(state.slug, safe='')}"
    if state.expired:
        return page(
            "Link expired",
            "<h1>This link has expired</h1><p>Confirmation links work for a week. "
            f'<a href="{escape(form_url, quote=True)}">Subscribe again</a> to get a new one.</p>',
            status=410,
        )
    email = escape(state.email)
    if state.waiting:
        return page(
            "Confirm your subscription",
            f"<h1>Confirm your subscription</h1><p><strong>{email}</strong> will receive "
            f"{_names(state.waiting)} from {ending(state.organization_name)}</p>"
            f'<form method="post" action="{escape(path, quote=True)}">'
            "<button type=submit>Confirm my subscription</button></form>",
        )
    if state.confirmed:
        return page(
            "Subscribed",
            f'<h1>You are subscribed</h1><p class="done"><strong>{email}</strong> receives '
            f"{_names(state.confirmed)} from {ending(state.organization_name)}</p>",
        )
    return page(
        "Nothing to confirm",
        "<h1>Nothing to confirm</h1><p>This address is no longer waiting to join these "
        f'lists. <a href="{escape(form_url, quote=True)}">Subscribe again</a> if you want to.</p>',
    )


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
async def confirmation(request: Request, token: str) -> HTMLResponse:
    state = await confirmation_state(_services(request).database, token)
    if state is None:
        return not_found()
    return _confirmation_page(str(request.url.path), state)


@router.post("/subscribe/confirm/{token}", response_model=None)
async def confirmation_post(request: Request, token: str) -> Response:
    state = await confirm(_services(request).database, token)
    if state is None:
        return not_found()
    if state.expired:
        return _confirmation_page(str(request.url.path), state)
    return see_other(str(request.url.path))
