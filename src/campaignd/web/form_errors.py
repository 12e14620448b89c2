"""Problems with a form, said in the words of the form and placed next to its field.

The actions name the API field a problem is about (``subject: must not be empty``,
``htmlBody: TemplateSyntaxError: ...``); a form shows it beside the input the person typed
into, as a sentence, and says at the top which field needs attention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS = {
    "name": "name",
    "subject": "subject",
    "htmlBody": "html_body",
    "textBody": "text_body",
    "htmlBody or textBody": "text_body",
    "fromAddress": "from_address",
    "replyTo": "reply_to",
    "bodyFormat": "body_format",
    "layout": "layout",
    "organization": "organization",
    "recipients": "recipients",
    "scheduledFor": "when",
    "date": "when",
    "time": "when",
    "time zone": "timezone",
    "timezone": "timezone",
    "lists": "lists",
    "segments": "segments",
    "category": "category",
    "cappedRecipients": "defer_until",
    "deferUntil": "defer_until",
}
"""The prefix of a problem (the API's or the form's own name of a field) -> the form field."""

LABELS = {
    "name": "Campaign name",
    "subject": "Subject",
    "html_body": "HTML body",
    "text_body": "Plain-text body",
    "from_address": "From",
    "reply_to": "Reply-to",
    "body_format": "Body format",
    "layout": "Layout",
    "organization": "Organization",
    "recipients": "CSV file",
    "when": "Date and time",
    "timezone": "Time zone",
    "lists": "Lists",
    "segments": "Segments",
    "category": "Category",
    "defer_until": "Deferral deadline",
}

ANCHORS = {"when": "date", "lists": "targets", "segments": "targets", "category": "targets"}
"""The input to jump to for a field that spans several (date and time: the date)."""

_TEMPLATE_ERROR = re.compile(r"^(?:\w+Error|\w+Exception): (?P<message>.*)$", re.DOTALL)


@dataclass(frozen=True)
class FieldError:
    field: str | None
    """The form field (``subject``, ``when``...), or None when it concerns no one field."""
    text: str
    """A sentence."""

    @property
    def label(self) -> str:
        return LABELS.get(self.field or "", "")

    def anchor(self, prefix: str = "") -> str:
        field = self.field or ""
        return prefix + ANCHORS.get(field, field)


def sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _words(field: str, rest: str) -> str:
    if rest == "must not be empty":
        return f"Write the {LABELS[field].lower()}."
    if rest == "a campaign needs at least one body":
        return "Write a plain-text body, an HTML body, or both."
    if rest.startswith("goes over the limit") and field in {"subject", "html_body", "text_body"}:
        return sentence(f"This template {rest}")
    template = _TEMPLATE_ERROR.match(rest)
    if template and field in {"subject", "html_body", "text_body"}:
        return sentence(f"This template cannot be used: {template.group('message')}")
    return sentence(rest)


def field_error(detail: str) -> FieldError:
    """``subject: must not be empty`` -> the ``subject`` field and "Write the subject."."""
    for prefix in sorted(FIELDS, key=len, reverse=True):
        if detail.startswith(prefix + ": "):
            field = FIELDS[prefix]
            return FieldError(field, _words(field, detail[len(prefix) + 2 :]))
    return FieldError(None, sentence(detail))
