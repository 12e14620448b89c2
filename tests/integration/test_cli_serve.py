"""``campaignd serve`` in a fresh folder: private database files, a first token only once."""

from __future__ import annotations

import asyncio
import email
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaignd.actions.bootstrap import first_start
from campaignd.cli import app
from campaignd.store.database import Database, create_private_sqlite_file
from campaignd.store.migrate import upgrade
from campaignd.store.tokens import create_token, revoke_token

TOKEN = re.compile(r"\bcmp_[A-Za-z0-9_\-]{20,}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose_umask() -> None:
    os.umask(0o022)


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}
    env["CAMPAIGND_LOG_FORMAT"] = "text"
    return env


def serve_once(
    folder: Path,
    *,
    while_running: object = None,
    port: int | None = None,
    env: dict[str, str] | None = None,
    arguments: tuple[str, ...] = (),
    health_port: int | None = None,
) -> str:
    """Run ``campaignd serve`` in ``folder`` (umask 022) until healthy (``/healthz`` on
    ``health_port``, by default the port served), then SIGTERM it; returns what it
    printed. ``while_running`` is called while it serves."""
    port = port or free_port()
    log = folder / f"serve-{port}.log"
    command = [sys.executable, "-m", "campaignd", "serve", "--port", str(port), *arguments]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**environment(), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=loose_umask,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    probe = f"http://127.0.0.1:{health_port or port}/healthz"
                    urllib.request.urlopen(probe, timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            if callable(while_running):
                while_running()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return log.read_text(encoding="utf-8", errors="replace")


def test_serve_in_a_fresh_folder_keeps_the_database_private_and_prints_a_token_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "campaignd.db"
    modes: dict[str, int] = {}

    def look() -> None:
        for suffix in ("", "-wal", "-shm"):
            path = database.with_name(database.name + suffix)
            modes[suffix or "db"] = mode_of(path)

    first = serve_once(tmp_path, while_running=look)
    assert modes == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}, {
        name: oct(mode) for name, mode in modes.items()
    }
    printed = TOKEN.findall(first)
    assert len(printed) == 1 and "First start" in first

    # revoke every token from the shell, start again: no new token in the log
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", f"sqlite:///{database}")
    listed = CliRunner().invoke(app, ["token", "list"])
    token_ids = re.findall(r"^\S*\s*(\d+)\s", listed.output, re.M)
    assert token_ids, listed.output
    for token_id in token_ids:
        assert CliRunner().invoke(app, ["token", "revoke", token_id]).exit_code == 0
    second = serve_once(tmp_path)
    assert TOKEN.findall(second) == [] and "First start" not in second
    assert "no live platform admin token" in second
    assert "campaignd token create --role platform_admin" in second
    assert mode_of(database) == 0o600


def test_a_new_database_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        url = f"sqlite:///{tmp_path / 'new.db'}"
        upgrade(url)

        async def write_and_look() -> dict[str, int]:
            handle = Database(url)
            try:
                await first_start(handle)
                return {
                    suffix: mode_of(tmp_path / f"new.db{suffix}") for suffix in ("", "-wal", "-shm")
                }
            finally:
                await handle.dispose()

        assert asyncio.run(write_and_look()) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        os.umask(previous)


def test_an_existing_database_file_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    path.touch()
    path.chmod(0o644)
    create_private_sqlite_file(f"sqlite:///{path}")
    assert mode_of(path) == 0o644
    assert "database file readable by others" in caplog.text
    create_private_sqlite_file("sqlite://")  # in memory: nothing to create


async def test_the_first_start_is_recorded_and_never_repeated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'boot.db'}"
    upgrade(url)
    handle = Database(url)
    try:
        first = await first_start(handle)
        assert first.token is not None and first.live_platform_admins == 1
        again = await first_start(handle)
        assert again.token is None and again.live_platform_admins == 1
    finally:
        await handle.dispose()


async def test_a_database_from_before_the_record_gets_no_new_token(tmp_path: Path) -> None:
    """Tokens were made (and all revoked) before first starts were recorded."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    handle = Database(url)
    try:
        async with handle.transaction() as connection:
            row, _ = await create_token(
                connection, role="platform_admin", organization_id=None, name="old"
            )
            await revoke_token(connection, int(row["id"]))
        started = await first_start(handle)
        assert started.token is None and started.live_platform_admins == 0
    finally:
        await handle.dispose()


def test_links_follow_the_port_served_unless_public_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --port N`` without CAMPAIGND_PUBLIC_URL: the sign-in URL and the unsubscribe
    links of the messages it sends are on port N, and the link answers there."""
    for name in list(os.environ):
        if name.startswith("CAMPAIGND_") and not name.startswith("CAMPAIGND_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["org", "create", "acme", "--name", "Acme Inc."]).exit_code == 0
    definition = tmp_path / "campaign.json"
    definition.write_text(
        '{"name": "Links", "subject": "Hi", "textBody": "Hello", "organization": "acme", '
        '"recipients": ["ada@example.com"]}',
        encoding="utf-8",
    )
    created = runner.invoke(app, ["campaign", "create", "--from", str(definition)])
    assert created.exit_code == 0, created.output
    campaign_id = created.stdout.splitlines()[0]
    port = free_port()
    links: list[str] = []

    def send_and_follow_the_link() -> None:
        assert runner.invoke(app, ["campaign", "execute", campaign_id]).exit_code == 0
        deadline = time.monotonic() + 60
        while not (messages := list((tmp_path / "outbox").glob("*.eml"))):
            assert time.monotonic() < deadline, "no message was written"
            time.sleep(0.2)
        message = email.message_from_bytes(messages[0].read_bytes())
        links.extend(re.findall(r"<(http[^>]+)>", message["List-Unsubscribe"]))
        with urllib.request.urlopen(links[0], timeout=10) as page:
            assert page.status == 200 and b"Unsubscribe" in page.read()

    log = serve_once(tmp_path, while_running=send_and_follow_the_link, port=port)
    assert links and links[0].startswith(f"http://127.0.0.1:{port}/u/"), links
    assert f"Sign in at http://127.0.0.1:{port}/admin/login" in log
    assert "CAMPAIGND_PUBLIC_URL is" not in log

    elsewhere = "http://127.0.0.1:9"
    log = serve_once(tmp_path, port=port, env={"CAMPAIGND_PUBLIC_URL": elsewhere})
    [warning] = [line for line in log.splitlines() if "CAMPAIGND_PUBLIC_URL is" in line]
    assert "WARNING" in warning
    served = f"http://127.0.0.1:{port}"
    assert f"CAMPAIGND_PUBLIC_URL is {elsewhere} but this instance serves {served}" in warning


@pytest.mark.parametrize(
    ("role", "lock_owned"), [("scheduler", "1.0"), ("worker", "0.0")], ids=["scheduler", "worker"]
)
def test_a_process_without_the_api_serves_metrics_on_its_metrics_port(
    tmp_path: Path, role: str, lock_owned: str
) -> None:
    """``--metrics-port`` (or CAMPAIGND_METRICS_PORT): the scheduler lock gauge of a
    scheduler-only process can be scraped, so ``sum(campaignd_scheduler_lock_owned)`` works."""
    metrics_port = free_port()
    scraped: list[str] = []

    def scrape() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as page:
            scraped.append(page.read().decode())

    as_option = role == "scheduler"
    serve_once(
        tmp_path,
        while_running=scrape,
        arguments=("--role", role, *(("--metrics-port", str(metrics_port)) if as_option else ())),
        env={} if as_option else {"CAMPAIGND_METRICS_PORT": str(metrics_port)},
        health_port=metrics_port,
    )
    assert f"campaignd_scheduler_lock_owned {lock_owned}" in scraped[0]
    assert "campaignd_queue_depth" in scraped[0]


def test_metrics_port_cannot_be_the_api_port(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "campaignd", "serve", "--port", "8123", "--metrics-port", "8123"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--metrics-port" in result.stderr
