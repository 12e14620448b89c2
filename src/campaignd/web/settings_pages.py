"""The organization's settings pages, reached from one **Settings** link of the navigation:
each page's navigation key (``active``), address, title and what it is for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SettingsPage:
    active: str
    url: str
    title: str
    purpose: str


SETTINGS_PAGES = (
    SettingsPage(
        "layouts",
        "/admin/marketing/layouts",
        "Layouts",
        "The header, footer and styles every campaign's body is placed in.",
    ),
    SettingsPage(
        "images",
        "/admin/marketing/images",
        "Images",
        "Logos and pictures for layouts and bodies, served from this instance.",
    ),
    SettingsPage(
        "frequency",
        "/admin/marketing/frequency-rules",
        "Frequency rules",
        "How many messages a person may get in a window, per category.",
    ),
    SettingsPage(
        "suppressions",
        "/admin/marketing/suppressions",
        "Suppressions",
        "Addresses never mailed again: unsubscribed, bounced, complained, or added by hand.",
    ),
    SettingsPage(
        "dkim",
        "/admin/marketing/dkim",
        "DKIM keys",
        "Keys that sign messages per sending domain, and the DNS records to publish.",
    ),
    SettingsPage(
        "webhooks",
        "/admin/marketing/webhooks",
        "Webhooks",
        "Signed events posted to your application: sent, bounced, unsubscribed, clicked...",
    ),
)
"""In the order the Settings page and its tabs show them."""

SETTINGS_ACTIVE = frozenset({"settings", *(page.active for page in SETTINGS_PAGES)})
