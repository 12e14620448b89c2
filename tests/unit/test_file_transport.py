"""The .eml outbox: names that never leave the directory, files only their owner can read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from campaignd.delivery.messages import Message
from campaignd.delivery.transports import FileTransport, file_name_of


def message(message_id: str) -> Message:
    return Message(
        message_id=message_id, sender="news@acme.example", recipient="a@b.org", data=b"x\r\n"
    )


def test_an_ordinary_message_id_is_the_file_name() -> None:
    assert file_name_of("12.345@acme.example") == "12.345@acme.example"


@pytest.mark.parametrize(
    "message_id",
    [
        "1.2@evil.example/../../../../tmp/owned",
        "1.2@/etc/passwd",
        "../1.2@x",
        "..",
        ".hidden",
        "",
        "1.2@x\r\nBcc: y",
        "1.2@" + "a" * 300,
        "1.2@x\\..\\..\\y",
        "1.2@x\x00y",
    ],
)
def test_a_hostile_message_id_becomes_a_safe_name(message_id: str) -> None:
    name = file_name_of(message_id)
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".")
    assert name.isprintable() and 0 < len(name) <= 200


def test_different_ids_never_share_a_file() -> None:
    assert file_name_of("1.2@a/b") != file_name_of("1.2@a_b")
    assert file_name_of("1.2@a/b") != file_name_of("1.2@a:b")


async def test_files_stay_in_the_outbox_and_only_the_owner_reads_them(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    transport = FileTransport(outbox)
    hostile = message("1.2@evil.example/../../escaped")
    reply = await transport.send(hostile)
    assert reply.accepted, reply
    assert not (tmp_path / "escaped.eml").exists()
    (written,) = list(outbox.iterdir())
    assert written.parent == outbox and written.suffix == ".eml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert written.read_bytes() == b"x\r\n"
