"""Binary files (an upload, a spooled request body, a file on disk) read as CSV text, with
the bytes read counted for a progress bar."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO


class CountingReader(io.RawIOBase):
    """A binary file that tells ``on_read`` how many bytes each read returned.

    Closing it leaves the file it reads open, so a caller can read that file again.
    """

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._on_read(len(data))
        return len(data)


def csv_text(raw: IO[bytes], on_read: Callable[[int], None] = lambda _: None) -> io.TextIOWrapper:
    """``raw`` as UTF-8 text (a byte-order mark is skipped) with line endings kept, as the
    CSV reader wants it; reading it raises ``UnicodeDecodeError`` on a byte that is not."""
    counting = io.BufferedReader(CountingReader(raw, on_read), buffer_size=1 << 20)
    return io.TextIOWrapper(counting, encoding="utf-8-sig", newline="")
