"""CSRF protection: every POST form carries the session's token; anything else is refused.
A form whose text holds the NUL character is refused too, naming the field (PostgreSQL
stores no U+0000; ``api.nul_characters`` refuses it in the API's requests)."""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.datastructures import FormData

from campaignd.domain.nul_characters import NUL, shown
from campaignd.web.session import Session, load_session, services_of

FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"


class CsrfRefused(Exception):
    """The form's CSRF token is missing or not this session's."""


class NulInForm(Exception):
    """A field of the form (not an uploaded file) holds U+0000."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def check_token(session: Session, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted.encode(), session.csrf.encode()):
        raise CsrfRefused


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token is checked against the session."""
    limit = services_of(request).settings.max_body_bytes
    form = await request.form(max_part_size=limit)
    submitted = form.get(FIELD_NAME)
    if not isinstance(submitted, str):
        submitted = request.headers.get(HEADER_NAME)
    check_token(await load_session(request), submitted)
    for name, value in form.multi_items():
        if NUL in name or (isinstance(value, str) and NUL in value):
            raise NulInForm(shown(name))
    return form
