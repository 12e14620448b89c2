"""What the CLI prints into a pipe: whole table rows, JSON for scripts, progress lines."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.integration.test_cli_campaigns import engine, new_campaign, ok

__all__ = ["engine"]

LONG_NAME = "Winter Event [bold]" + "with a long name " * 6 + "[/bold] end"  # < 200 characters
LONG_REASON = "bounced: " + "550 5.1.1 the mailbox does not exist here " * 4 + "end"


def piped(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``campaignd ARGUMENTS`` in a child process whose stdout is a pipe, not a terminal."""
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-m", "campaignd", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def piped_ok(*arguments: str) -> str:
    result = piped(*arguments)
    assert result.returncode == 0, result.stderr
    return result.stdout


def json_of(*arguments: str) -> dict[str, Any]:
    document = json.loads(ok(*arguments, "--json").stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> int:
    """An organization, a token, a sent-to campaign with a long name, a long suppression."""
    ok("org", "create", "acme", "--name", "Acme Inc.")
    ok("token", "create", "--role", "viewer", "--org", "acme", "--name", "read-only dashboard")
    campaign_id = new_campaign(tmp_path, name=LONG_NAME, recipients=["a@example.com"])
    ok("campaign", "execute", str(campaign_id))
    ok("suppress", "add", "b@example.com", "--org", "acme", "--reason", "bounced")
    return campaign_id


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For what does not depend on the database: child processes are slow to start."""


@SQLITE_ONLY
def test_tables_are_not_cut_in_a_pipe(filled: int) -> None:
    listing = piped_ok("campaign", "list")
    assert any(LONG_NAME in line for line in listing.splitlines()), listing
    runs = piped_ok("runs")
    assert any(f"{filled} {LONG_NAME}" in line for line in runs.splitlines()), runs
    tokens = piped_ok("token", "list")
    assert any("read-only dashboard" in line for line in tokens.splitlines()), tokens
    assert "…" not in listing + runs


def test_every_listing_speaks_json(filled: int) -> None:
    campaigns = json_of("campaign", "list")
    assert campaigns["more"] is False
    [campaign] = campaigns["campaigns"]
    assert campaign["id"] == filled and campaign["name"] == LONG_NAME
    assert campaign["status"] == "sending" and campaign["recipientCount"] == 1
    assert campaign["startedAt"].endswith("Z") and "htmlBody" not in campaign

    assert json_of("campaign", "status", str(filled))["name"] == LONG_NAME
    preview = json_of("campaign", "preview", str(filled))
    assert preview["campaignId"] == filled and preview["totalRecipients"] == 1

    [run] = json_of("runs")["executions"]
    assert (run["campaignId"], run["trigger"], run["status"]) == (filled, "manual", "sending")
    assert run["actor"].startswith("cli:") and run["executedAt"].endswith("Z")

    [organization] = json_of("org", "list")["organizations"]
    assert (organization["slug"], organization["name"]) == ("acme", "Acme Inc.")

    tokens = json_of("token", "list")["tokens"]
    viewer = next(token for token in tokens if token["role"] == "viewer")
    assert viewer["organization"] == "acme" and viewer["prefix"].startswith("cmp_")
    assert not any("hash" in key.lower() for token in tokens for key in token)

    suppressions = json_of("suppress", "list", "--org", "acme")
    assert suppressions["organization"] == "acme" and suppressions["more"] is False
    assert [(row["email"], row["reason"]) for row in suppressions["suppressions"]] == [
        ("b@example.com", "bounced")
    ]


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next line the child wrote, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"no line within {timeout} s"
    return process.stdout.readline()


@SQLITE_ONLY
def test_watch_prints_progress_lines_into_a_pipe_while_it_waits(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(
        tmp_path,
        recipients=["a@example.com", "b@example.com"],
        scheduledFor="2099-01-01T00:00:00Z",
    )
    command = [sys.executable, "-m", "campaignd", "campaign", "status", str(campaign_id)]
    command += ["--watch", "--interval", "0.1", "--every", "0.5"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as process:
        try:
            first = read_line(process, 30)
            second = read_line(process, 5)
            assert process.poll() is None, "the lines came before the end"
            ok("campaign", "cancel", str(campaign_id))
            rest = process.communicate(timeout=30)[0]
        finally:
            if process.poll() is None:
                process.kill()
    for line in (first, second):
        assert line.startswith(f"campaign {campaign_id} scheduled, starts in "), line
        assert line.rstrip().endswith(": 0/2 sent, 0 failed, 0 skipped"), line
    lines = rest.splitlines()
    last_progress = next(line for line in lines if "cancelled:" in line)
    assert last_progress == f"campaign {campaign_id} cancelled: 0/2 sent, 0 failed, 0 skipped"
    assert all(
        line.startswith(f"campaign {campaign_id} ") for line in lines[: lines.index(last_progress)]
    )
    assert process.returncode == 1
