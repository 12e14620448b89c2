"""Real ``campaignd serve`` processes sharing one Redis.

Two deployments (two databases) on one Redis each lead their own scheduler and start their
own campaigns; two instances of one deployment share the lock, and the one that waits
says so in its log and in ``/readyz``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaignd.cli import app
from campaignd.settings import Settings
from tests.integration.test_cli_serve import free_port


def environment(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}
    env.update({f"CAMPAIGND_{name.upper()}": value for name, value in values.items()})
    env["CAMPAIGND_LOG_FORMAT"] = "text"
    return env


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.status == 200
        document = json.loads(answer.read())
    assert isinstance(document, dict)
    return document


@contextlib.contextmanager
def serving(folder: Path, env: dict[str, str]) -> Iterator[tuple[int, Path]]:
    """``campaignd serve`` in ``folder`` until the block ends, then SIGTERM (exit 0)."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    command = [sys.executable, "-m", "campaignd", "serve", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    get_json(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            yield port, log
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return result


def in_folder(folder: Path, monkeypatch: pytest.MonkeyPatch, *arguments: str) -> str:
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_two_deployments_on_one_redis_each_start_their_campaigns(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both use the default ``sqlite:///./campaignd.db``, each in its own folder: two
    databases, so two Redis prefixes and two scheduler leaders."""
    for name in list(os.environ):
        if name.startswith("CAMPAIGND_") and not name.startswith("CAMPAIGND_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CAMPAIGND_REDIS_URL", redis_url)
    folders = [tmp_path / "north", tmp_path / "south"]
    for folder in folders:
        folder.mkdir()
        in_folder(folder, monkeypatch, "org", "create", "acme")
        (folder / "campaign.json").write_text(
            json.dumps(
                {
                    "name": f"News from {folder.name}",
                    "subject": "Hello",
                    "textBody": "Hi",
                    "organization": "acme",
                    "recipients": [f"ada@{folder.name}.example.com"],
                }
            ),
            encoding="utf-8",
        )
        in_folder(folder, monkeypatch, "campaign", "create", "--from", "campaign.json")
    env = environment(redis_url=redis_url)
    with serving(folders[0], env) as (north, _), serving(folders[1], env) as (south, _):
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        for folder in folders:
            in_folder(folder, monkeypatch, "campaign", "schedule", "1", "--at", soon)
        for folder in folders:
            wait_for(
                lambda folder=folder: list((folder / "outbox").glob("*.eml")),
                60,
                f"{folder.name} sent nothing (its scheduler waits for the other one's lock?)",
            )
        said = [get_json(f"http://127.0.0.1:{port}/readyz")["scheduler"] for port in (north, south)]
    keys = []
    for folder, status in zip(folders, said, strict=True):
        monkeypatch.chdir(folder)
        key = f"{Settings(_env_file=None).redis_key_prefix}:scheduler"  # type: ignore[call-arg]
        assert status == f"leader (holds the leader lock {key})"
        keys.append(key)
        status_line = in_folder(folder, monkeypatch, "campaign", "status", "1").splitlines()[0]
        assert ": sent," in status_line, status_line
    assert keys[0] != keys[1]


def test_the_instance_waiting_for_the_lock_says_so(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """Two instances of one deployment: one leads; the other says, in its log and in
    ``/readyz`` (still 200), that it waits for the leader lock, naming the key."""
    settings = Settings(_env_file=None, database_url=postgres_url)  # type: ignore[call-arg]
    key = f"{settings.redis_key_prefix}:scheduler"
    env = environment(database_url=postgres_url, redis_url=redis_url)
    folders = [tmp_path / "one", tmp_path / "two"]
    for folder in folders:
        folder.mkdir()
    with serving(folders[0], env) as first, serving(folders[1], env) as second:
        instances = [first, second]

        def statuses() -> list[str] | None:
            said = [
                get_json(f"http://127.0.0.1:{port}/readyz")["scheduler"] for port, _ in instances
            ]
            return said if any(status.startswith("waiting") for status in said) else None

        said = wait_for(statuses, 30, "neither instance waits for the lock")
        waiting = next(index for index, status in enumerate(said) if status.startswith("waiting"))
        assert said[1 - waiting] == f"leader (holds the leader lock {key})"
        assert said[waiting].startswith(
            f"waiting for the leader lock {key} (held by another instance, "
        )
        log = instances[waiting][1]
        lines = [line for line in log.read_text().splitlines() if "waiting for the sched" in line]
    assert len(lines) == 1 and f"key={key}" in lines[0], lines
