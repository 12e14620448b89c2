"""A file read by a process of its own, while this one stores the chunks read before.

Reading (CSV or JSON parsing, address checks, de-duplication) and storing (building each
row for the database) are both Python: in two threads of one process they take turns
under the interpreter lock, so a million-row import cost the sum of the two. A reading
process runs beside the storing one, on another core.

The reader sends what its ``read`` function yields (chunks of recipients, batches of
contacts) over a queue of at most ``AHEAD`` of them: memory stays flat, the reader waits
while the storing catches up. An error of the file (the ``refusal`` type, e.g.
``RecipientListError``) comes out where its chunk would have, as the same type with the
same words; a reader that dies without a word (killed, out of memory) is a ``refusal``
too, saying so. Whoever stops early closes the generator (``contextlib.aclosing``): the
reader is then stopped. The reader ignores Ctrl-C: the command it reads for stops it.

The process is forked: it starts at once with everything already imported (a fresh
interpreter would import the command line again, seconds of start-up), and ``read`` need
not be picklable. It runs only the reading, which takes none of the locks the parent's
other threads may hold. As the ``gc`` module advises before a fork, the objects that exist
then are frozen (``gc.freeze``) until the reading ends: neither process's collections walk
the hundreds of thousands of objects of the imported modules again and again
(docs/performance.md, "The file read by a process of its own").
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import queue
import signal
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Generic, TypeVar

Item = TypeVar("Item")

AHEAD = 2
"""Items the reader may have read ahead of the storing, waiting in the queue."""

POLL_SECONDS = 0.5
"""How often a wait for the next item checks that the reader is still alive."""


@dataclass(frozen=True)
class _Message(Generic[Item]):
    """What the reader sends: an item, the end (``done``), or why it stopped (``error``),
    with the bytes of the file read so far."""

    bytes_read: int
    item: Item | None = None
    done: bool = False
    error: str | None = None


def _read(
    read: Callable[[Callable[[int], None]], Iterator[Item]],
    refusal: type[Exception],
    out: Queue[_Message[Item]],
) -> None:
    """The reader process: every item, then the end (or the error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    total = 0

    def count(size: int) -> None:
        nonlocal total
        total += size

    try:
        for item in read(count):
            out.put(_Message(bytes_read=total, item=item))
    except refusal as error:
        out.put(_Message(bytes_read=total, error=str(error)))
        return
    except OSError as error:
        out.put(_Message(bytes_read=total, error=f"could not be read ({error.strerror or error})"))
        return
    out.put(_Message(bytes_read=total, done=True))


def _next(messages: Queue[_Message[Item]], reader: BaseProcess) -> _Message[Item]:
    """The reader's next message; one with an ``error`` when it died without sending one."""
    while True:
        try:
            return messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not reader.is_alive():
                try:  # it may have sent its last message just before it ended
                    return messages.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    stopped = f"the process reading the file stopped (exit code {reader.exitcode})"
                    return _Message(bytes_read=0, error=stopped)


async def read_apart(
    read: Callable[[Callable[[int], None]], Iterator[Item]],
    refusal: type[Exception],
    *,
    on_read: Callable[[int], None] = lambda _: None,
) -> AsyncGenerator[Item, None]:
    """What ``read(count)`` yields, read by another process; ``read`` calls ``count`` with
    the bytes it reads, and ``on_read`` gets them here as each item arrives."""
    context = multiprocessing.get_context("fork")
    messages: Queue[_Message[Item]] = context.Queue(maxsize=AHEAD)
    reader = context.Process(
        target=_read, args=(read, refusal, messages), name="campaignd-file-reader", daemon=True
    )
    gc.freeze()
    try:
        reader.start()
    except BaseException:
        gc.unfreeze()
        raise
    reported = 0
    try:
        while True:
            message = await asyncio.to_thread(_next, messages, reader)
            if message.bytes_read > reported:
                on_read(message.bytes_read - reported)
                reported = message.bytes_read
            if message.error is not None:
                raise refusal(message.error)
            if message.done:
                return
            assert message.item is not None
            yield message.item
    finally:
        if reader.is_alive():
            reader.terminate()
        await asyncio.to_thread(reader.join)
        messages.close()
        messages.cancel_join_thread()
        gc.unfreeze()
