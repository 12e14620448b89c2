"""``/frequency-rules`` and a campaign's ``category``: set, show, reset; categories; bad
input refused naming the field and changing nothing; roles and organization scope; the
preview and the fan-out use the rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import frequency_rules
from tests.integration.api_client import Api, open_api


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def test_default_then_set_then_reset(api: Api) -> None:
    shown = await api.call("acme_admin", "GET", "/frequency-rules")
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "organization": "acme",
        "rules": [{"max": 1, "days": 90}],
        "default": True,
        "categories": [],
    }
    changed = await api.call(
        "acme_admin",
        "PUT",
        "/frequency-rules",
        json={"rules": [{"max": 1, "days": 1}, {"max": 3, "days": 7}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rules"] == [{"max": 3, "days": 7}, {"max": 1, "days": 1}]
    assert changed.json()["default"] is False
    category = await api.call(
        "acme_admin",
        "PUT",
        "/frequency-rules/categories/product-updates",
        json={"rules": [{"max": 2, "days": 7}]},
    )
    assert category.json()["categories"] == [
        {"name": "product-updates", "rules": [{"max": 2, "days": 7}]}
    ]
    audit = [row["action"] for row in await api.audit()]
    assert audit.count("frequency_rules.set") == 2

    reset = await api.call("acme_admin", "DELETE", "/frequency-rules")
    assert reset.json()["default"] is True
    assert reset.json()["rules"] == [{"max": 1, "days": 90}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": [{"max": 0, "days": 7}]}, "rules[0].max"),
        ({"rules": [{"max": 1, "days": 0}]}, "rules[0].days"),
        ({"rules": [{"max": 1, "days": 7}, {"max": 1}]}, "rules[1].days"),
        ({"rules": [{"max": "1", "days": 7}]}, "rules[0].max"),
        ({"rules": [{"max": 1, "days": 7, "hours": 2}]}, "rules[0].hours"),
        ({"rules": [{"max": n, "days": n} for n in range(1, 7)]}, "rules"),
        ({"rules": [{"max": 1, "days": 7}, {"max": 2, "days": 7}]}, "rules"),
        ({"rules": []}, "rules"),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.call("acme_admin", "PUT", "/frequency-rules", json=body)
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert await api.rows(frequency_rules) == []


async def test_bad_category_names_and_unknown_categories(api: Api) -> None:
    response = await api.call(
        "acme_admin", "PUT", "/frequency-rules/categories/Not%20Good", json={"rules": []}
    )
    assert response.status_code in (400, 422) and "category" in response.text
    created = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json={"name": "N", "subject": "S", "textBody": "T", "category": "nope"},
    )
    assert (
        created.status_code in (400, 422)
        and "category: acme has no category 'nope'" in created.text
    )
    assert await api.rows(frequency_rules) == []
    missing = await api.call("acme_admin", "DELETE", "/frequency-rules/categories/nope")
    assert missing.status_code == 404


async def test_a_campaign_belongs_to_a_category_until_it_starts(api: Api) -> None:
    await api.call(
        "acme_admin",
        "PUT",
        "/frequency-rules/categories/news",
        json={"rules": [{"max": 1, "days": 7}]},
    )
    campaign = await api.create("acme_admin", category="news")
    assert campaign["category"] == "news"
    cleared = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{campaign['id']}", json={"category": None}
    )
    assert cleared.status_code == 200 and cleared.json()["category"] is None
    again = await api.call(
        "acme_admin",
        "PATCH",
        f"/campaigns/{campaign['id']}",
        json={"category": "news", "subject": "New"},
    )
    assert again.json()["category"] == "news" and again.json()["subject"] == "New"
    busy = await api.call("acme_admin", "DELETE", "/frequency-rules/categories/news")
    assert busy.status_code == 409


async def test_organizations_keep_their_rules_apart(api: Api) -> None:
    await api.call("acme_admin", "PUT", "/frequency-rules", json={"rules": [{"max": 2, "days": 7}]})
    theirs = await api.call("globex_admin", "GET", "/frequency-rules")
    assert theirs.json()["organization"] == "globex" and theirs.json()["default"] is True
    other = await api.call("globex_admin", "GET", "/frequency-rules?organization=acme")
    assert other.status_code in (400, 422) and "organization" in other.text
    viewer = await api.call(
        "acme_viewer", "PUT", "/frequency-rules", json={"rules": [{"max": 1, "days": 1}]}
    )
    assert viewer.status_code == 403
    platform = await api.call("platform", "GET", "/frequency-rules?organization=acme")
    assert platform.json()["rules"] == [{"max": 2, "days": 7}]
    campaign = await api.create("acme_admin")
    foreign = await api.call(
        "globex_admin", "PATCH", f"/campaigns/{campaign['id']}", json={"category": None}
    )
    assert foreign.status_code == 404


async def test_the_preview_names_the_rule(api: Api) -> None:
    await api.call(
        "acme_admin",
        "PUT",
        "/frequency-rules",
        json={"rules": [{"max": 1, "days": 1}, {"max": 5, "days": 30}]},
    )
    first = await api.campaign_in("sending", recipients=["ada@example.com"])
    assert first
    from campaignd.scheduling.scheduler import Scheduler  # noqa: F401  (fan-out below)
    from campaignd.store.columns import utcnow
    from campaignd.store.fanout import CooldownRules, fan_out

    async with api.database.transaction() as connection:
        await fan_out(connection, first, rules=CooldownRules(90, "global"), now=utcnow())
    second = await api.create("acme_admin", recipients=["ada@example.com", "bob@example.org"])
    preview = await api.call("acme_admin", "POST", f"/campaigns/{second['id']}/preview")
    assert preview.status_code == 200, preview.text
    reasons = preview.json()["reasons"]
    assert [reason["email"] for reason in reasons] == ["ada@example.com"]
    assert "(at most 1 per day)" in reasons[0]["reason"]
    assert "'Spring news' today" in reasons[0]["reason"]
