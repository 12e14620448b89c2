"""Every command's ``--help`` reads well: no type placeholders, no sentence cut short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from campaignd.cli import app

PLACEHOLDER = re.compile(r"\{[a-z_]+\}|<(?:bool|str|int|float|path|list|choice)[^>]*>")
CUT_SHORT = re.compile(r"\w\.\.\.$")


def command_paths(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    command = command or typer.main.get_command(app)
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


PATHS = list(command_paths())


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        app, [*path, "--help"], prog_name="campaignd", env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path in PATHS}
    assert {"", "serve", "db upgrade", "campaign schedule", "suppress add", "runs"} <= names
    assert len(names) > 25


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "campaignd")
def test_help_reads_well(path: tuple[str, ...]) -> None:
    text = help_of(path)
    assert not PLACEHOLDER.findall(text), text
    assert "Usage: campaignd" in text
    summary = text.split("\n\n")[1].strip()
    assert summary[:1].isupper() or summary.startswith("campaignd:"), text
    assert summary.endswith("."), text
    listing = text.split("Commands:\n", 1)[1] if "Commands:\n" in text else ""
    cut = [line for line in listing.splitlines() if CUT_SHORT.search(line.rstrip())]
    assert not cut, f"summaries cut short: {cut}"
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_help_in_a_pipe_is_the_same_plain_text() -> None:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "campaignd", "campaign", "import", "-h"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0
    assert "campaign import [OPTIONS] ID FILE.csv" in result.stdout
    assert not PLACEHOLDER.findall(result.stdout)
    assert "╭" not in result.stdout and "\x1b[" not in result.stdout
