"""The signature checks in docs/webhooks.md, run as written (Python, and Node when it is
installed) against a real delivery: they accept it, and refuse it altered."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.delivery_support import organization
from tests.integration.webhook_receiver import Received
from tests.integration.webhook_support import (
    Clock,
    add_endpoint,
    dispatcher,
    receivers,
    record,
    webhook_settings,
)
from tests.support import missing

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def snippet(language: str) -> str:
    section = DOCS.read_text().split("## Verifying a signature", 1)[1]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found is not None, f"no {language} block in {DOCS}"
    return found.group(1)


async def delivered(database: Database, settings: Settings) -> tuple[str, Received]:
    settings = webhook_settings(settings)
    acme = await organization(database, "acme")
    async with receivers() as [receiver]:
        created = await add_endpoint(database, settings, receiver.url)
        await record(database, acme, "clicked", email="zoë@example.com", url="https://x.org/ü")
        await dispatcher(database, settings, Clock()).run_burst()
        [request] = receiver.requests
    return created.secret, request


def python_check(secret: str, headers: dict[str, str], body: bytes) -> bool:
    scope: dict[str, Any] = {"secret": secret, "headers": headers, "body": body}
    exec(snippet("python"), scope)
    return bool(scope["valid"])


def node_check(secret: str, headers: dict[str, str], body: bytes) -> bool:
    program = (
        "const {secret, headers, body} = JSON.parse(process.env.INPUT);\n"
        + snippet("js")
        + "\nprocess.stdout.write(String(valid));\n"
    )
    document = {"secret": secret, "headers": headers, "body": body.decode("utf-8")}
    result = subprocess.run(
        ["node", "-e", program],
        env=os.environ | {"INPUT": json.dumps(document)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout == "true"


@pytest.mark.parametrize("language", ["python", "node"])
async def test_the_documented_check_accepts_a_delivery_and_refuses_it_altered(
    database: Database, settings: Settings, language: str
) -> None:
    if language == "node" and shutil.which("node") is None:
        missing("node is not installed (apt-get install nodejs)")
    check = python_check if language == "python" else node_check
    secret, request = await delivered(database, settings)
    assert check(secret, request.headers, request.body)
    assert not check(secret, request.headers, request.body.replace(b"clicked", b"clocked"))
    other = dict(request.headers, **{"webhook-id": "msg_other"})
    assert not check(secret, other, request.body)
    stale = dict(
        request.headers,
        **{"webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 3600)},
    )
    assert not check(secret, stale, request.body)
