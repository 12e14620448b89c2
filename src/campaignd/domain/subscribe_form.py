"""The subscribe form as HTML: on the public page ``/subscribe/{organization}`` and as the
snippet an organization pastes into its own site. Everything it shows is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from campaignd.domain.lists import HONEYPOT_FIELD

SNIPPET_HIDDEN_STYLE = "position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden"
"""How the snippet hides its honeypot field (the host page's styles are unknown)."""


@dataclass(frozen=True)
class FormList:
    name: str
    description: str | None = None


def _attribute(value: str) -> str:
    return escape(value, quote=True)


def _choices(lists: Sequence[FormList], chosen: Sequence[str]) -> str:
    if len(lists) == 1:
        only = lists[0]
        about = f" <small>{escape(only.description)}</small>" if only.description else ""
        return (
            f'<input type="hidden" name="lists" value="{_attribute(only.name)}">'
            f"<p>Subscribe to <strong>{escape(only.name)}</strong>.{about}</p>"
        )
    boxes = []
    for item in lists:
        checked = " checked" if item.name in chosen else ""
        about = f"<br><small>{escape(item.description)}</small>" if item.description else ""
        boxes.append(
            f'<label><input type="checkbox" name="lists" value="{_attribute(item.name)}"'
            f"{checked}> {escape(item.name)}{about}</label>"
        )
    return "<fieldset><legend>Lists</legend>" + "<br>".join(boxes) + "</fieldset>"


def form_html(
    *,
    action: str,
    lists: Sequence[FormList],
    email: str = "",
    chosen: Sequence[str] = (),
    hidden_class: str | None = None,
) -> str:
    """A ``<form>`` that posts an address and the chosen list names to ``action``.

    The honeypot field is hidden by ``hidden_class`` (a page with its own style sheet) or
    else by an inline style (a snippet in someone else's page).
    """
    hidden = (
        f'class="{_attribute(hidden_class)}"' if hidden_class else f'style="{SNIPPET_HIDDEN_STYLE}"'
    )
    return (
        f'<form method="post" action="{_attribute(action)}" accept-charset="utf-8">'
        '<p><label for="subscribe-email">Email address</label><br>'
        '<input id="subscribe-email" type="email" name="email" required maxlength="254" '
        f'autocomplete="email" value="{_attribute(email)}"></p>'
        f"{_choices(lists, chosen)}"
        f'<div {hidden} aria-hidden="true"><label>Leave this field empty '
        f'<input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off" '
        'value=""></label></div>'
        '<p><button type="submit">Subscribe</button></p></form>'
    )
