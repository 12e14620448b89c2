"""deploy/: the systemd unit and the Containerfile, checked and started where this machine allows.

There is no systemd as PID 1 and no container engine here, so the unit is verified with
``systemd-analyze verify`` and the command of each is run for real with the environment it
declares (paths moved into the test's folder): it must answer ``/healthz`` and drain to exit 0
on its stop signal. With a working ``docker``/``podman`` the image is built and run too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import typer

from campaignd.cli import app
from campaignd.settings import Settings
from tests.support import missing

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "campaignd.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def campaignd_executable() -> str:
    candidate = Path(sys.executable).with_name("campaignd")
    found = str(candidate) if candidate.exists() else shutil.which("campaignd")
    if found is None:
        pytest.fail("the campaignd console script is not installed (pip install -e .)")
    return found


def unit_settings() -> dict[str, list[str]]:
    """``key -> values`` of the unit's [Service] section (keys may repeat)."""
    section, values = "", dict[str, list[str]]()
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def container_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined."""
    joined = CONTAINERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            result.append((instruction.upper(), " ".join(arguments.split())))
    return result


def exec_form(arguments: str) -> list[str]:
    import json

    value = json.loads(arguments)
    assert isinstance(value, list), f"use the exec form (a JSON list): {arguments}"
    return [str(item) for item in value]


def wait_until_healthy(
    process: subprocess.Popen[bytes], probe: list[str], env: dict[str, str], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited early with {process.returncode}:\n{log.read_text()}")
        if subprocess.run(probe, env=env, capture_output=True, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail(f"never became healthy:\n{log.read_text()}")


def run_and_stop(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    probe: list[str],
    stop: signal.Signals,
    grace: float,
) -> str:
    """Start, wait for ``probe`` to succeed, send ``stop``, expect exit 0 within ``grace``."""
    log = cwd / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until_healthy(process, probe, env, log)
            process.send_signal(stop)
            assert process.wait(timeout=grace) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return log.read_text(encoding="utf-8", errors="replace")


def http_probe(port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}/healthz"
    code = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return [sys.executable, "-c", code]


def clean_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("CAMPAIGND_")}


def assert_parses(arguments: list[str]) -> None:
    """The arguments are accepted by the CLI (parsed, not run)."""
    command = typer.main.get_command(app)
    context = command.make_context("campaignd", list(arguments), resilient_parsing=False)
    assert context is not None


# --- systemd -------------------------------------------------------------------------------


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing("systemd-analyze is missing: apt-get install systemd")
    executable = campaignd_executable()
    text = UNIT.read_text(encoding="utf-8")
    assert "/opt/campaignd/bin/campaignd " in text
    unit = tmp_path / "campaignd.service"
    unit.write_text(text.replace("/opt/campaignd/bin/campaignd", executable), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if "campaignd" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_unit_declares_known_settings_and_a_draining_stop() -> None:
    service = unit_settings()
    known = {f"CAMPAIGND_{name.upper()}" for name in Settings.model_fields}
    for assignment in service["Environment"]:
        assert assignment.split("=", 1)[0] in known, assignment
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["Restart"] == ["on-failure"]
    assert_parses(shlex.split(service["ExecStart"][0])[1:])


def test_unit_command_serves_and_drains_on_its_kill_signal(tmp_path: Path) -> None:
    service = unit_settings()
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    env = clean_environment()
    for assignment in service["Environment"]:
        name, value = assignment.split("=", 1)
        env[name] = value.replace("/var/lib/campaignd", str(state))
    command = shlex.split(service["ExecStart"][0])
    command[0] = campaignd_executable()
    command[command.index("--port") + 1] = str(port)
    stop = signal.Signals[service["KillSignal"][0]]
    run_and_stop(command, env, state, http_probe(port), stop, float(service["TimeoutStopSec"][0]))
    assert (state / "campaignd.db").exists()


# --- Containerfile -------------------------------------------------------------------------


def test_containerfile_copies_what_exists_and_runs_the_console_script() -> None:
    instructions = container_instructions()
    names = [name for name, _ in instructions]
    assert names[0] == "FROM" and "python:3.1" in instructions[0][1]
    for name, arguments in instructions:
        if name == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    entrypoint = exec_form(dict(instructions)["ENTRYPOINT"])
    assert entrypoint == ["campaignd"] and "campaignd" in scripts
    command = exec_form(dict(instructions)["CMD"])
    assert_parses(command)
    port = command[command.index("--port") + 1]
    assert dict(instructions)["EXPOSE"] == port
    assert dict(instructions)["STOPSIGNAL"] == "SIGTERM"
    assert "/healthz" in dict(instructions)["HEALTHCHECK"]
    assert "USER" in names, "the image must not run as root"


def container_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, arguments in container_instructions():
        if name == "ENV":
            for assignment in shlex.split(arguments):
                key, _, value = assignment.partition("=")
                env[key] = value
    return env


def test_containerfile_environment_names_known_settings() -> None:
    known = {f"CAMPAIGND_{name.upper()}" for name in Settings.model_fields}
    declared = {key for key in container_environment() if key.startswith("CAMPAIGND_")}
    assert declared and declared <= known


def test_container_command_serves_and_drains_here(tmp_path: Path) -> None:
    """The image's ENTRYPOINT + CMD with its ENV, run on this machine (no engine needed)."""
    instructions = dict(container_instructions())
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = clean_environment()
    env.update(
        {key: value.replace("/data", str(data)) for key, value in container_environment().items()}
    )
    command = exec_form(instructions["ENTRYPOINT"]) + exec_form(instructions["CMD"])
    command[0] = campaignd_executable()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    probe = exec_form(instructions["HEALTHCHECK"].split(" CMD ", 1)[1])
    probe = [
        sys.executable if part == "python" else part.replace(":8000/", f":{port}/")
        for part in probe
    ]
    output = run_and_stop(command, env, data, probe, signal.Signals[instructions["STOPSIGNAL"]], 90)
    assert (data / "campaignd.db").exists()
    assert '"event"' in output, "LOG_FORMAT=json: log lines are JSON"


def container_engine() -> str | None:
    for engine in ("podman", "docker"):
        path = shutil.which(engine)
        if path and subprocess.run([path, "info"], capture_output=True, timeout=30).returncode == 0:
            return path
    return None


@pytest.mark.container
def test_container_image_builds_and_answers(tmp_path: Path) -> None:
    """Needs a container engine that can pull the base image: run it with ``-m container``
    where there is one; without one it fails (it never skips quietly)."""
    engine = container_engine()
    assert engine is not None, "no container engine answers here (docker/podman info fails)"
    tag = f"campaignd-test:{os.getpid()}"
    subprocess.run(
        [engine, "build", "-f", str(CONTAINERFILE), "-t", tag, str(ROOT)], check=True, timeout=900
    )
    port = free_port()
    name = f"campaignd-test-{os.getpid()}"
    subprocess.run(
        [engine, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", tag],
        check=True,
        timeout=120,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=3
                ) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the container never answered /healthz"
                time.sleep(0.5)
        subprocess.run([engine, "stop", "-t", "60", name], check=True, timeout=120)
        inspect = subprocess.run(
            [engine, "inspect", "-f", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
            check=True,
        )
        assert inspect.stdout.strip() == "0"
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True, timeout=60)


def test_configuration_documents_every_variable() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"CAMPAIGND_{name.upper()}"
        for name in Settings.model_fields
        if f"`CAMPAIGND_{name.upper()}`" not in documented
    ]
    assert not missing, f"docs/configuration.md does not describe {missing}"
