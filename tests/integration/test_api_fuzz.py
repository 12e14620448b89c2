"""Schemathesis against a served instance: whatever it sends, the answers match the schema.

A real ``campaignd serve --role api`` on a free loopback port, a fresh database (SQLite,
then PostgreSQL, which refuses some text SQLite stores, such as the NUL character) with an
organization, a platform-admin token and a few campaigns; then ``schemathesis run`` in
deterministic mode (the same cases every run) with a bounded number of examples per
operation. Every check must pass: a finding is fixed in the product (status codes,
response models, content types), never by dropping a check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_deploy import free_port

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
MAX_EXAMPLES = 150  # per operation; 2-3 minutes a database on two cores
SCHEMATHESIS_TIMEOUT = 600


def environment(folder: Path, database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}
    return env | {
        "CAMPAIGND_DATABASE_URL": database_url,
        "CAMPAIGND_EMAIL_TRANSPORT": f"file://{folder / 'outbox'}",
        "CAMPAIGND_LOG_LEVEL": "WARNING",
        # DKIM record checks ask a port on the loopback where nothing answers: no query
        # leaves the machine
        "CAMPAIGND_DNS_NAMESERVERS": "127.0.0.1:9",
        "CAMPAIGND_DNS_TIMEOUT": "0.5",
    }


def campaignd(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "campaignd", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"campaignd serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"campaignd serve never answered:\n{log.read_text()}")


def seed(url: str, token: str) -> None:
    """Campaigns 1-4 (draft, scheduled, sending, cancelled), so ids in the schema's examples
    reach real campaigns and not only 404s."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{url}/api/admin/marketing", headers=headers) as client:
        for number in range(1, 5):
            body = {
                "name": f"Fuzz {number}",
                "subject": "Hello {{ name }}",
                "textBody": "Hi {{ name }}",
                "organization": "acme",
                "recipients": [
                    f"a{number}@example.com",
                    {"email": f"b{number}@example.org", "vars": {"name": "B"}},
                ],
            }
            assert client.post("/campaigns", json=body).status_code == 201
        later = {"scheduledFor": "2099-01-01T09:00:00Z"}
        assert client.post("/campaigns/2/schedule", json=later).status_code == 200
        assert client.post("/campaigns/3/execute").status_code == 202
        assert client.post("/campaigns/4/schedule", json=later).status_code == 200
        assert client.post("/campaigns/4/cancel").status_code == 200


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str, str]]:
    """(base URL, platform-admin token, database URL) of a live instance on a fresh, migrated
    database."""
    env = environment(tmp_path, database_url)
    campaignd(env, "org", "create", "acme")
    token = campaignd(env, "token", "create", "--role", "platform_admin", "--name", "fuzz")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "campaignd", "serve", "--port", str(port), "--role", "api"],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(process, url, log)
            seed(url, token)
            yield url, token, database_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def shown(output: str, lines: int = 200, width: int = 400) -> str:
    """The end of schemathesis' report, each line cut short (bodies can be megabytes)."""
    return "\n".join(line[:width] for line in output.splitlines()[-lines:])


def test_schemathesis_finds_nothing(served: tuple[str, str, str], tmp_path: Path) -> None:
    url, token, database_url = served
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {token}",
        "--generation-deterministic",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--continue-on-failure",
        "--no-color",
    ]
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=tmp_path,  # no schemathesis.toml of the repository or the user applies
        env=environment(tmp_path, database_url),
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT,
        check=False,
    )
    report = shown(done.stdout + done.stderr)
    assert done.returncode == 0, f"schemathesis found problems:\n{report}"
    assert " passed" in report, report
    print(f"schemathesis: {time.monotonic() - started:.0f} s\n{report[-600:]}")
