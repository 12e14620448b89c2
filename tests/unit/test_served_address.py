"""Settings that depend on where an instance runs: PUBLIC_URL's default, the Redis prefix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campaignd.settings import Settings, database_identity, served_url, serves


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_an_unset_public_url_follows_the_address_served() -> None:
    default = settings()
    assert not default.public_url_is_set
    assert default.serving("127.0.0.1", 18200).public_url == "http://127.0.0.1:18200"
    assert default.serving("0.0.0.0", 8000).public_url == "http://127.0.0.1:8000"
    assert default.serving("::1", 8000).public_url == "http://[::1]:8000"
    assert not default.serving("127.0.0.1", 18200).public_url_is_set
    chosen = settings(public_url="https://campaigns.example.com/")
    assert chosen.public_url_is_set
    assert chosen.serving("127.0.0.1", 18200).public_url == "https://campaigns.example.com"


@pytest.mark.parametrize(
    ("public_url", "host", "port", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, True),
        ("http://localhost:8000", "127.0.0.1", 8000, True),
        ("http://127.0.0.1:8000", "127.0.0.1", 18200, False),
        ("http://campaigns.example.com:8000", "0.0.0.0", 8000, True),
        ("https://campaigns.example.com", "0.0.0.0", 8000, False),
        ("https://campaigns.example.com", "0.0.0.0", 443, True),
        ("http://10.0.0.5:8000", "127.0.0.1", 8000, False),
    ],
)
def test_whether_public_url_is_the_address_served(
    public_url: str, host: str, port: int, same: bool
) -> None:
    assert serves(public_url, host, port) is same
    assert served_url("127.0.0.1", 80) == "http://127.0.0.1:80"


def test_the_redis_prefix_of_a_relative_sqlite_path_depends_on_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefixes = []
    for name in ("north", "south"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        prefixes.append(settings().redis_key_prefix)
        assert database_identity("sqlite:///./campaignd.db") == (
            f"sqlite:///{os.path.abspath('campaignd.db')}"
        )
    assert prefixes[0] != prefixes[1]
    absolute = f"sqlite:///{tmp_path / 'north' / 'campaignd.db'}"
    assert settings(database_url=absolute).redis_key_prefix == prefixes[0]
    assert database_identity("postgresql://app:pw@db/campaigns") == (
        "postgresql://app:pw@db/campaigns"
    )
    assert settings(redis_prefix="acme-prod").redis_key_prefix == "acme-prod"
