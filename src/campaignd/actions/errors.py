"""Errors a user can cause, answered in words (the API maps them to HTTP statuses)."""

from __future__ import annotations


class ActionError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ActionError):
    status_code = 404


class Forbidden(ActionError):
    status_code = 403


class Conflict(ActionError):
    status_code = 409


class Invalid(ActionError):
    status_code = 422


class UnknownName(Invalid):
    """A request names something that does not exist (an organization's slug): 422 over
    HTTP, since it is a field of the request; the CLI says which database it looked in."""


class Unreadable(ActionError):
    """A file or body that cannot be read as text at all (not UTF-8): 400 over HTTP."""

    status_code = 400
