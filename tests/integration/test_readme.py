"""The README's first campaign, run as written, step by step, against a real ``serve``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.test_cli_serve import TOKEN, environment, free_port, serve_once
from tests.support import missing

README = Path(__file__).resolve().parents[2] / "README.md"


def first_campaign_steps() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Your first campaign with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no shell block in the README's first campaign"
    return match.group(1)


def shims(folder: Path) -> Path:
    """``campaignd`` and ``python`` on PATH, as ``pip install .`` would provide them."""
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    for name, command in (
        ("campaignd", f'exec "{sys.executable}" -m campaignd "$@"'),
        ("python", f'exec "{sys.executable}" "$@"'),
    ):
        script = bin_folder / name
        script.write_text(f"#!/bin/sh\n{command}\n", encoding="utf-8")
        script.chmod(0o755)
    return bin_folder


def test_the_first_campaign_steps_work_in_order(tmp_path: Path) -> None:
    for tool in ("bash", "curl", "date"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed")
    steps = first_campaign_steps()
    assert "export TOKEN=cmp_..." in steps and "127.0.0.1:8000" in steps
    port = free_port()
    env = environment()
    env["PATH"] = f"{shims(tmp_path)}{os.pathsep}{env['PATH']}"
    outcome: list[subprocess.CompletedProcess[str]] = []

    def run_the_steps() -> None:
        token = TOKEN.findall((tmp_path / f"serve-{port}.log").read_text())[0]
        script = steps.replace("export TOKEN=cmp_...", f"export TOKEN={token}")
        script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
        outcome.append(
            subprocess.run(
                ["bash", "-c", prelude + script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
        )

    serve_once(tmp_path, while_running=run_the_steps, port=port)
    [result] = outcome
    assert result.returncode == 0, result.stdout + result.stderr
    messages = sorted(path.name for path in (tmp_path / "outbox").glob("*.eml"))
    assert len(messages) == 3
    assert all(name in result.stdout for name in messages), result.stdout
    assert ": sent," in result.stdout or "sent: 3/3 sent" in result.stdout
    assert '"trigger":"schedule"' in result.stdout.replace(" ", "")
