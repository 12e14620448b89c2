"""A file read by a process of its own (``cli.reading_process``), as ``campaign import``
reads a recipient CSV: the same chunks as reading it here, errors where they happen, and no
reader left behind."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import pytest

from campaignd.cli.reading_process import read_apart
from campaignd.cli.recipient_files import csv_chunks
from campaignd.domain.recipients import RecipientList, RecipientListError


def people(path: Path, count: int, *, tail: str = "") -> Path:
    lines = ["email,first_name"] + [
        f"Person{number}@Example.org,P{number}" for number in range(count)
    ]
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return path


def readers() -> list[multiprocessing.process.BaseProcess]:
    return [child for child in multiprocessing.active_children() if "file-reader" in child.name]


def chunks_read_apart(
    path: Path, *, rows: int, on_read: Callable[[int], None] = lambda _: None
) -> AsyncGenerator[RecipientList, None]:
    return read_apart(
        lambda count: csv_chunks(path, rows=rows, on_read=count),
        RecipientListError,
        on_read=on_read,
    )


async def read_all(path: Path, rows: int) -> tuple[list[RecipientList], int]:
    chunks: list[RecipientList] = []
    read = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    async with contextlib.aclosing(chunks_read_apart(path, rows=rows, on_read=count)) as ahead:
        async for chunk in ahead:
            chunks.append(chunk)
    return chunks, read


def test_the_chunks_are_those_of_reading_the_file_here(tmp_path: Path) -> None:
    path = people(tmp_path / "people.csv", 25)
    path.write_text(path.read_text() + "not an address,X\nperson3@example.org,again\n")
    chunks, read = asyncio.run(read_all(path, rows=10))
    here = list(csv_chunks(path, rows=10))
    assert [chunk.recipients for chunk in chunks] == [chunk.recipients for chunk in here]
    assert [chunk.invalid for chunk in chunks] == [chunk.invalid for chunk in here]
    assert chunks[0].recipients["person0@example.org"] == {"first_name": "P0"}
    assert sum(len(chunk.recipients) for chunk in chunks) == 26  # "again" is a new chunk's
    assert read == path.stat().st_size
    assert readers() == []


def test_an_error_late_in_the_file_comes_after_the_chunks_before_it(tmp_path: Path) -> None:
    path = people(tmp_path / "people.csv", 30, tail='"never closed,X\n')
    chunks: list[RecipientList] = []

    async def read() -> None:
        async with contextlib.aclosing(chunks_read_apart(path, rows=10)) as ahead:
            async for chunk in ahead:
                chunks.append(chunk)

    with pytest.raises(RecipientListError) as raised:
        asyncio.run(read())
    assert str(raised.value).startswith("line 32: a quoted field opens here and is never closed")
    assert len(chunks) == 3
    assert readers() == []


def test_stopping_early_stops_the_reader(tmp_path: Path) -> None:
    path = people(tmp_path / "people.csv", 5_000)

    async def first_then_stop() -> int:
        async with contextlib.aclosing(chunks_read_apart(path, rows=10)) as ahead:
            async for chunk in ahead:
                [alive] = readers()  # it is reading ahead of us
                assert alive.is_alive()
                return len(chunk.recipients)
        raise AssertionError("no chunk")

    assert asyncio.run(first_then_stop()) == 10
    assert readers() == []


def test_a_reader_killed_midway_is_an_error_in_words(tmp_path: Path) -> None:
    path = people(tmp_path / "people.csv", 5_000)

    async def read_while_killing() -> int:
        seen = 0
        async with contextlib.aclosing(chunks_read_apart(path, rows=10)) as ahead:
            async for _chunk in ahead:
                seen += 1
                if seen == 1:
                    [reader] = readers()
                    assert reader.pid is not None
                    os.kill(reader.pid, signal.SIGKILL)
        return seen

    with pytest.raises(RecipientListError) as raised:
        asyncio.run(read_while_killing())
    assert str(raised.value) == "the process reading the file stopped (exit code -9)"
    assert readers() == []
