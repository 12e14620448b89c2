"""What the admin pages answer when something is wrong: sign-in, CSRF, not found.

Handled by the admin routes' own route class, so the API's error handling is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from campaignd.actions.errors import NotFound
from campaignd.api.errors import describe_errors
from campaignd.web.auth import SignInRequired, current_viewer, login_url
from campaignd.web.csrf import CsrfRefused, NulInForm
from campaignd.web.rendering import redirect, render


async def _sign_in(request: Request, problem: SignInRequired) -> Response:
    url = login_url(problem.next_url)
    if request.headers.get("HX-Request"):
        response = await redirect(request, url)
        response.status_code = 200
        response.headers["HX-Redirect"] = url
        return response
    return await redirect(request, url)


async def _csrf_refused(request: Request) -> Response:
    context = {
        "title": "This form could not be accepted",
        "message": (
            "The form was missing its security token, or the token belongs to another "
            "session (perhaps you signed in again in another tab). Nothing was changed. "
            "Go back, reload the page and submit the form again."
        ),
    }
    return await render(request, "error.html", context, status_code=403)


async def _nul_in_form(request: Request, problem: NulInForm) -> Response:
    context = {
        "title": "This form could not be accepted",
        "message": (
            f"The field {problem.field} holds the NUL character (\\u0000), which no field "
            "may hold. Nothing was changed."
        ),
    }
    return await render(request, "error.html", context, status_code=422)


async def _not_found(request: Request, problem: NotFound) -> Response:
    try:
        viewer = await current_viewer(request)
    except SignInRequired as sign_in:
        return await _sign_in(request, sign_in)
    context = {
        "title": "Not found",
        "message": f"{problem.detail[:1].upper()}{problem.detail[1:]}. It may have been "
        "deleted, or it belongs to an organization you cannot see.",
    }
    return await render(request, "error.html", context, viewer=viewer, status_code=404)


async def _bad_parameters(request: Request, problem: RequestValidationError) -> Response:
    """An id out of range is a page that does not exist; a bad query parameter says which."""
    errors = list(problem.errors())
    if any(tuple(error.get("loc", ()))[:2] == ("path", "report_id") for error in errors):
        name = request.path_params.get("report_id", "")
        return await _not_found(request, NotFound(f"import {name} not found"))
    if any(tuple(error.get("loc", ()))[:1] == ("path",) for error in errors):
        name = request.path_params.get("campaign_id", "")
        return await _not_found(request, NotFound(f"campaign {name} not found"))
    try:
        viewer = await current_viewer(request)
    except SignInRequired as sign_in:
        return await _sign_in(request, sign_in)
    context = {
        "title": "This address cannot be shown",
        "message": f"The link is not valid ({describe_errors(errors)}). Nothing was changed.",
    }
    return await render(request, "error.html", context, viewer=viewer, status_code=422)


class AdminRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as problem:
                return await _sign_in(request, problem)
            except CsrfRefused:
                return await _csrf_refused(request)
            except NulInForm as problem:
                return await _nul_in_form(request, problem)
            except NotFound as problem:
                return await _not_found(request, problem)
            except RequestValidationError as problem:
                return await _bad_parameters(request, problem)

        return handle
