"""Settings derived from other settings."""

from __future__ import annotations

import pytest

from campaignd.settings import Settings, SettingsError, load_settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_redis_prefix_is_derived_from_the_database_not_its_password() -> None:
    first = settings(database_url="postgresql://app:one@db.internal:5432/campaigns")
    same = settings(database_url="postgresql+psycopg://app:two@DB.internal:5432/campaigns")
    other = settings(database_url="postgresql://app:one@db.internal:5432/other")
    assert first.redis_prefix.startswith("campaignd:")
    assert first.redis_prefix == same.redis_prefix != other.redis_prefix
    assert "one" not in first.redis_prefix


def test_a_chosen_redis_prefix_wins() -> None:
    assert settings(redis_prefix="acme-prod:").redis_prefix == "acme-prod"
    with pytest.raises(SettingsError, match="CAMPAIGND_REDIS_PREFIX"):
        load_settings(_env_file=None, redis_prefix="has space")
