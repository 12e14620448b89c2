"""The DKIM signing process: a worker's signatures, made beside its event loop.

With signing threads, a signed message cost the worker's event loop far more than the
signature's own 0.3 ms of CPU (RSA-2048) would explain: hand-overs to the threads and back,
wake-ups of the loop, and batches that came back unevenly and split the recorder's group
commits (``docs/performance.md``). A worker process therefore starts one child process
(``python -m campaignd.delivery.signing_process``) the first time it signs, and talks to
it through a pair of pipes on its event loop, with no thread: the messages to sign during
one turn of the loop go out in one write; the child makes each message's DKIM-Signature
header fields (the canonical forms and the private-key operations) and writes the answers
in order, in one write for what it read at once and what came in while it signed that:
the connections of a round get their signatures together, so
they stay in step for the recorder's group commit.

Private keys go to the child through its standard input, in memory, the first time a
signer needs them; they are never written to disk. The child keeps each signer (by a hash
of its keys) while it lives, ignores SIGINT and SIGTERM (its worker decides when to stop:
a Ctrl-C of the terminal reaches the whole process group, and the worker still drains) and
exits when its standard input closes, that is when its worker closes it or is gone.

Frames on both pipes are a 4-byte big-endian length followed by a pickle. To the child:
``("signer", name, ((domain, selector, pem), ...))`` once per signer, then
``("sign", name, message bytes, timestamp)``; from it, for each ``sign`` in order:
``("signed", header bytes)`` or ``("failed", error text)``.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LENGTH = struct.Struct(">I")
READ_SIZE = 1 << 16
RETRY_SECONDS = 10.0
"""After the signing process stopped or could not start, how long signers sign on the event
loop before another process is started (a process that cannot run is not restarted for
every message)."""
MAX_TOGETHER = 32  # messages answered in one write at most (the first ones wait for them)


class SigningProcessGone(Exception):
    """The signing process stopped, or could not start: the message is not signed there.
    ``fresh``: this is the first message to hear of it."""

    def __init__(self, reason: str, *, fresh: bool = True) -> None:
        super().__init__(reason)
        self.fresh = fresh


@dataclass(frozen=True)
class SignerIdentity:
    """A signer as the signing process knows it: a name (a hash of what follows) and its
    keys as (domain, selector, PKCS#8 PEM)."""

    name: bytes
    keys: tuple[tuple[str, str, bytes], ...] = field(repr=False)


def _frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(body)) + body


def _frames(buffer: bytearray) -> Iterator[Any]:
    """The complete frames at the start of ``buffer``, taken out of it."""
    start = 0
    try:
        while len(buffer) - start >= LENGTH.size:
            (length,) = LENGTH.unpack_from(buffer, start)
            end = start + LENGTH.size + length
            if len(buffer) < end:
                break
            yield pickle.loads(buffer[start + LENGTH.size : end])
            start = end
    finally:
        del buffer[:start]


# ---------------------------------------------------------------- the worker's side


class SigningProcess:
    """One signing process and the event loop that talks to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.owner = os.getpid()
        self._child = subprocess.Popen(
            [sys.executable, "-m", "campaignd.delivery.signing_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._child.stdin is not None and self._child.stdout is not None
        self._input = self._child.stdin.fileno()
        self._output = self._child.stdout.fileno()
        os.set_blocking(self._input, False)
        os.set_blocking(self._output, False)
        self._outgoing = bytearray()
        self._incoming = bytearray()
        self._flush_planned = False
        self._writing = False
        self._signers: set[bytes] = set()
        self._pending: collections.deque[asyncio.Future[bytes]] = collections.deque()
        self.closed = False
        loop.add_reader(self._output, self._readable)

    @property
    def pid(self) -> int:
        return self._child.pid

    def sign(self, signer: SignerIdentity, data: bytes, stamp: int) -> asyncio.Future[bytes]:
        """The DKIM-Signature header fields of the message ``data`` (signature time
        ``stamp``): a future on this process's loop; it fails with ``SigningProcessGone``
        when the process stops first."""
        if self.closed:
            raise SigningProcessGone("the signing process is closed", fresh=False)
        if signer.name not in self._signers:
            self._signers.add(signer.name)
            self._outgoing += _frame(("signer", signer.name, signer.keys))
        signed: asyncio.Future[bytes] = self.loop.create_future()
        self._pending.append(signed)
        self._outgoing += _frame(("sign", signer.name, data, stamp))
        if not self._flush_planned and not self._writing:
            self._flush_planned = True
            self.loop.call_soon(self._flush)
        return signed

    def _flush(self) -> None:
        self._flush_planned = False
        if self.closed:
            return
        try:
            written = os.write(self._input, self._outgoing)
        except BlockingIOError:
            written = 0
        except OSError as error:
            self._gone(f"the signing process does not take input: {error}")
            return
        del self._outgoing[:written]
        if self._outgoing and not self._writing:
            self._writing = True
            self.loop.add_writer(self._input, self._flush)
        elif not self._outgoing and self._writing:
            self._writing = False
            self.loop.remove_writer(self._input)

    def _readable(self) -> None:
        try:
            data = os.read(self._output, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as error:
            self._gone(f"the signing process's output failed: {error}")
            return
        if not data:
            self._gone(f"the signing process exited ({self._child.poll()})")
            return
        self._incoming += data
        for kind, value in _frames(self._incoming):
            signed = self._pending.popleft()
            if signed.done():  # its sender was cancelled
                continue
            if kind == "signed":
                signed.set_result(value)
            else:
                signed.set_exception(RuntimeError(f"DKIM signing failed: {value}"))

    def _gone(self, reason: str) -> None:
        global _retry_at
        _retry_at = time.monotonic() + RETRY_SECONDS
        self.close()
        while self._pending:
            signed = self._pending.popleft()
            if not signed.done():
                signed.set_exception(SigningProcessGone(reason))

    def close(self) -> None:
        """Stop the process (its standard input closes, it exits); idempotent. Messages
        still waiting for it are not answered."""
        if self.closed:
            return
        self.closed = True
        if not self.loop.is_closed():
            self.loop.remove_reader(self._output)
            if self._writing:
                self.loop.remove_writer(self._input)
        for stream in (self._child.stdin, self._child.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()


_current: SigningProcess | None = None
_retry_at = 0.0


def signing_process(loop: asyncio.AbstractEventLoop) -> SigningProcess:
    """This process's signing process for ``loop``, started the first time (and again
    after it stopped, or when another loop or a forked copy of the process asks); raises
    ``SigningProcessGone`` when it cannot start, or stopped less than ``RETRY_SECONDS`` ago."""
    global _current, _retry_at
    current = _current
    if current is not None and not current.closed and current.owner == os.getpid():
        if current.loop is loop:
            return current
        current.close()
    if time.monotonic() < _retry_at:
        raise SigningProcessGone("the signing process stopped a moment ago", fresh=False)
    try:
        _current = SigningProcess(loop)
    except OSError as error:
        _retry_at = time.monotonic() + RETRY_SECONDS
        raise SigningProcessGone(f"the signing process did not start: {error}") from error
    return _current


@atexit.register
def _close_at_exit() -> None:
    """Close the signing process at exit (it would exit anyway, its input closing with
    this process), so that it is waited for."""
    if _current is not None and _current.owner == os.getpid():
        _current.close()


def process_ids() -> list[int]:
    """The signing process of this process, when one runs (for CPU accounting)."""
    current = _current
    if current is None or current.closed or current.owner != os.getpid():
        return []
    return [current.pid]


# ---------------------------------------------------------------- the child


def serve(incoming: int, outgoing: int) -> None:
    """Sign what is read from the file descriptor ``incoming`` until it closes. Answers go
    out together: those to what came in one read, and to what came in while they were
    made (up to ``MAX_TOGETHER`` messages)."""
    from campaignd.delivery.dkim import Signer, signer_of

    signers: dict[bytes, Signer | str] = {}  # a signer, or why its keys do not load
    buffer = bytearray()
    while True:
        data = os.read(incoming, READ_SIZE)
        if not data:
            return
        buffer += data
        answers = bytearray()
        count = 0
        while True:
            for request in _frames(buffer):
                if request[0] == "signer":
                    _, name, keys = request
                    try:
                        signers[name] = signer_of(keys)
                    except Exception as error:
                        signers[name] = repr(error)
                    continue
                _, name, message, stamp = request
                signer = signers.get(name, "unknown signer")
                try:
                    if isinstance(signer, str):
                        raise RuntimeError(signer)
                    answer: tuple[str, object] = (
                        "signed",
                        signer.signature_headers(message, now=stamp),
                    )
                except Exception as error:
                    answer = ("failed", repr(error))
                answers += _frame(answer)
                count += 1
            if count >= MAX_TOGETHER or not select.select([incoming], [], [], 0)[0]:
                break
            data = os.read(incoming, READ_SIZE)
            if not data:
                break
            buffer += data
        _write_all(outgoing, answers)


def _write_all(descriptor: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.stdin.fileno(), sys.stdout.fileno())


if __name__ == "__main__":
    main()
