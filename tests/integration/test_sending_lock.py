"""One SQLite file, one sending process: a second `serve` that would schedule or send from
the same file refuses to start; an API-only process may share the file."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.integration.test_deploy import (
    campaignd_executable,
    clean_environment,
    free_port,
    http_probe,
    wait_until_healthy,
)


def _environment(folder: Path) -> dict[str, str]:
    return {
        **clean_environment(),
        "CAMPAIGND_DATABASE_URL": f"sqlite:///{folder / 'campaignd.db'}",
        "CAMPAIGND_EMAIL_TRANSPORT": f"file://{folder / 'outbox'}",
    }


def _start(folder: Path, name: str, *arguments: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [campaignd_executable(), "serve", *arguments],
        env=_environment(folder),
        cwd=folder,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, log


def test_a_second_sending_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    first_port, api_port = free_port(), free_port()
    first, first_log = _start(tmp_path, "first", "--port", str(first_port))
    api: subprocess.Popen[bytes] | None = None
    try:
        wait_until_healthy(first, http_probe(first_port), _environment(tmp_path), first_log)
        for role in ("all", "worker", "scheduler"):
            second = subprocess.run(
                [campaignd_executable(), "serve", "--role", role, "--port", str(free_port())],
                env=_environment(tmp_path),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1, second.stdout + second.stderr
            assert "already scheduling and sending" in second.stderr
            assert "PostgreSQL" in second.stderr
        api, api_log = _start(tmp_path, "api", "--role", "api", "--port", str(api_port))
        wait_until_healthy(api, http_probe(api_port), _environment(tmp_path), api_log)
    finally:
        for process in (first, api):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    assert first.returncode == 0, first_log.read_text()
    restarted = subprocess.run(
        [campaignd_executable(), "serve", "--burst"],
        env=_environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restarted.returncode == 0, restarted.stderr  # the lock went with its process
