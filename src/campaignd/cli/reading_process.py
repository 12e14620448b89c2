"""A recipient CSV read by a process of its own, while this one stores the chunks before.

Reading (CSV parsing, address checks, de-duplication) and storing (building each row for
the database) are both Python: in two threads of one process they take turns under the
interpreter lock, so a million-row import cost the sum of the two. A reading process runs
beside the storing one, on another core.

The chunks are the ``RecipientList`` chunks of ``recipient_files.csv_chunks``, sent over a
queue of at most ``AHEAD`` chunks (memory stays flat: the reader waits while the storing
catches up). A ``RecipientListError`` of the reading comes out where its chunk would have;
a reader that dies without a word (killed, out of memory) is reported as a
``RecipientListError`` too, saying so. Whoever stops early closes the generator
(``contextlib.aclosing``): the reader is then stopped. The reader ignores Ctrl-C: the
command it reads for stops it.

The process is forked: it starts at once with everything already imported (a fresh
interpreter would import the command line again, seconds of start-up). It runs only the
reading, which takes none of the locks the parent's other threads may hold.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import signal
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

from campaignd.cli.recipient_files import CHUNK_ROWS, csv_chunks
from campaignd.domain.recipients import (
    DEFAULT_LIMITS,
    RecipientLimits,
    RecipientList,
    RecipientListError,
)

AHEAD = 2
"""Chunks the reader may have read ahead of the storing, waiting in the queue."""

POLL_SECONDS = 0.5
"""How often a wait for the next chunk checks that the reader is still alive."""


@dataclass(frozen=True)
class _Message:
    """What the reader sends: a chunk, the end of the file, or why it stopped (``error``),
    with the bytes of the file read so far."""

    bytes_read: int
    chunk: RecipientList | None = None
    error: str | None = None


def _read(path: Path, rows: int, limits: RecipientLimits, out: Queue[_Message]) -> None:
    """The reader process: every chunk of the file, then the end (or the error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    read = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    try:
        for chunk in csv_chunks(path, rows=rows, on_read=count, limits=limits):
            out.put(_Message(bytes_read=read, chunk=chunk))
    except RecipientListError as error:
        out.put(_Message(bytes_read=read, error=str(error)))
        return
    except OSError as error:
        out.put(_Message(bytes_read=read, error=f"could not be read ({error.strerror or error})"))
        return
    out.put(_Message(bytes_read=read))


def _next(messages: Queue[_Message], reader: BaseProcess) -> _Message:
    """The reader's next message; ``RecipientListError`` when it died without sending one."""
    while True:
        try:
            return messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not reader.is_alive():
                try:  # it may have sent its last message just before it ended
                    return messages.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    raise RecipientListError(
                        f"the process reading the file stopped (exit code {reader.exitcode})"
                    ) from None


async def chunks_read_apart(
    path: Path,
    *,
    rows: int = CHUNK_ROWS,
    on_read: Callable[[int], None] = lambda _: None,
    limits: RecipientLimits = DEFAULT_LIMITS,
) -> AsyncGenerator[RecipientList, None]:
    """The chunks of ``csv_chunks(path, ...)``, read by another process; ``on_read`` gets the
    bytes read as each chunk arrives."""
    context = multiprocessing.get_context("fork")
    messages: Queue[_Message] = context.Queue(maxsize=AHEAD)
    reader = context.Process(
        target=_read, args=(path, rows, limits, messages), name="campaignd-csv-reader", daemon=True
    )
    reader.start()
    reported = 0
    try:
        while True:
            message = await asyncio.to_thread(_next, messages, reader)
            on_read(message.bytes_read - reported)
            reported = message.bytes_read
            if message.error is not None:
                raise RecipientListError(message.error)
            if message.chunk is None:
                return
            yield message.chunk
    finally:
        if reader.is_alive():
            reader.terminate()
        await asyncio.to_thread(reader.join)
        messages.close()
        messages.cancel_join_thread()
