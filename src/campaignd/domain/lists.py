"""Lists in words: what a list's name may be, and how often and how long double opt-in asks."""

from __future__ import annotations

import re
from datetime import timedelta

MAX_NAME_LENGTH = 100
RESERVED_NAMES = frozenset({"form"})
"""Names a list cannot take: ``.../lists/form`` is the embeddable form's route."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]")

CONFIRMATION_INTERVAL = timedelta(days=1)
"""At most one confirmation message per address and organization within this time: a form
submitted again and again (list bombing) sends nothing more."""

CONFIRMATION_LIFETIME = timedelta(days=7)
"""How long the link of a confirmation message works."""

HONEYPOT_FIELD = "website"
"""The subscribe form's hidden field: people leave it empty, form-filling robots do not."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a list (None: it can).

    A name is shown to subscribers and written in URLs, the form's fields and ``--lists a,b``:
    1 to 100 characters, no control characters, no ``/`` or ``,``, no spaces at either end.
    """
    if not name.strip():
        return "must not be empty"
    if name != name.strip():
        return "must not start or end with a space"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters long"
    if _CONTROL.search(name):
        return "must not contain control characters or line breaks"
    if "/" in name or "," in name:
        return "must not contain '/' or ','"
    if name.lower() in RESERVED_NAMES:
        return f"'{name}' is reserved; choose another name"
    return None


def split_names(text: str) -> list[str]:
    """``"news, offers"`` -> ``["news", "offers"]`` (trimmed, empty parts dropped, first
    occurrence kept)."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
