"""One sending process per SQLite file.

Two processes scheduling and sending from one SQLite file would each think they lead
(the in-process leader lock cannot see the other) and each apply ``SEND_RATE``. A process
that runs the scheduler or workers on a SQLite file therefore holds an exclusive lock on
a file beside it (``campaignd.db.sending-lock``) for as long as it runs; a second one
refuses to start. Processes with the ``api`` role only may share the file. PostgreSQL is
the way to run several sending instances.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from campaignd.store.database import is_sqlite


class AlreadySending(RuntimeError):
    """Another process is the sending process of this SQLite file."""


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file; None for PostgreSQL or an in-memory one."""
    if not is_sqlite(database_url):
        return None
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.sending-lock")


@contextlib.contextmanager
def sending_process(database_url: str) -> Iterator[None]:
    """Hold the sending lock of ``database_url`` (nothing to hold on PostgreSQL)."""
    path = lock_path(database_url)
    if path is None:
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadySending(
                f"another campaignd process is already scheduling and sending from "
                f"{make_url(database_url).database}: one SQLite file has one sending process "
                "(start more with --role api, or use PostgreSQL to run several instances)"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)
