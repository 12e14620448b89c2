"""``campaignd org set-rules / reset-rules / show / list`` and ``campaign category``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from campaignd.store.schema import campaigns, frequency_rules
from tests.integration.test_cli_campaigns import engine, new_campaign, ok, refused

__all__ = ["engine"]


def stored(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        rows = connection.execute(select(frequency_rules.c.category, frequency_rules.c.rules))
        return {str(category): rules for category, rules in rows}


def test_set_show_and_reset_rules(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert ok("org", "show", "acme").stdout.strip() == "acme: 1/90d (default: COOLDOWN_DAYS)"

    shown = ok("org", "set-rules", "acme", "--rule", "1/1d", "--rule", "3 per 7 days")
    assert shown.stdout.strip() == "acme: 3/7d 1/1d"
    ok("org", "set-rules", "acme", "--category", "product-updates", "--rule", "2/7")
    assert stored(engine) == {
        "": [{"max": 3, "days": 7}, {"max": 1, "days": 1}],
        "product-updates": [{"max": 2, "days": 7}],
    }
    document = json.loads(ok("org", "show", "acme", "--json").stdout)
    assert document["categories"] == [{"name": "product-updates", "rules": [{"max": 2, "days": 7}]}]
    listed = json.loads(ok("org", "list", "--json").stdout)["organizations"][0]
    assert listed["rules"] == "3/7d 1/1d"
    assert listed["categories"] == "product-updates 2/7d"

    ok("org", "set-rules", "acme", "--json-rules", '[{"max": 1, "days": 30}]')
    assert stored(engine)[""] == [{"max": 1, "days": 30}]
    ok("org", "reset-rules", "acme", "--category", "product-updates")
    ok("org", "reset-rules", "acme")
    assert stored(engine) == {}


def test_bad_rules_say_what_is_wrong_and_change_nothing(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert "rule: '3-7' is not a rule; write MAX/DAYSd" in refused(
        "org", "set-rules", "acme", "--rule", "3-7"
    )
    assert "rules[0].max: must be between 1 and 1000" in refused(
        "org", "set-rules", "acme", "--rule", "0/7d"
    )
    assert "two rules have the same days" in refused(
        "org", "set-rules", "acme", "--rule", "1/7d", "--rule", "2/7d"
    )
    assert "--json-rules: not JSON" in refused("org", "set-rules", "acme", "--json-rules", "[")
    assert "give at least one --rule" in refused("org", "set-rules", "acme")
    assert "no organization 'nope'" in refused("org", "set-rules", "nope", "--rule", "1/1d")
    assert stored(engine) == {}


def test_campaign_category(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    assert "acme has no category 'news'" in refused(
        "campaign", "category", str(campaign_id), "news"
    )
    ok("org", "set-rules", "acme", "--category", "news", "--rule", "1/7d")
    assert ok("campaign", "category", str(campaign_id), "news").stdout.strip() == (
        f"campaign {campaign_id}: news"
    )
    with engine.connect() as connection:
        category = connection.execute(
            select(campaigns.c.category).where(campaigns.c.id == campaign_id)
        ).scalar_one()
    assert category == "news"
    assert "have not finished" in refused("org", "reset-rules", "acme", "--category", "news")
    ok("campaign", "category", str(campaign_id))
    ok("org", "reset-rules", "acme", "--category", "news")
