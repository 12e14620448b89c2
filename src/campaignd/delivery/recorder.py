"""Group commit of delivery outcomes.

Every connection hands its result over and waits until it is committed before sending its
next message, so a crash can repeat at most one message per connection; the outcomes that
arrive while one transaction commits go together into the next.

The recorder keeps one database connection for its transactions instead of taking one
from the pool for each (a checkout, PostgreSQL's pre-ping and the return to the pool cost
a fifth to a quarter of a commit); after any error it lets that connection go and takes
a fresh, checked one from the pool.

It retries only what is worth retrying (the database away or busy: a lost connection, a
timeout, a lock); any other error is a bug, and it fails loudly instead of looping: the
outcomes' futures fail with ``RecordingFailed`` and the worker stops sending. A group
with an outcome for a lease that was taken back (``LeasesLost``) is written again, with
only the rows still held (``careful``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.logs import log_event
from campaignd.store.database import Database
from campaignd.store.queue import LeasesLost, Outcome

logger = logging.getLogger("campaignd.delivery")

Writer = Callable[[AsyncConnection, Sequence[Outcome], bool], Awaitable[None]]
"""Writes a group of outcomes in the recorder's transaction; the flag asks for the
careful write (``store.queue.record_outcomes``)."""
RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
ATTEMPTS_WHEN_CLOSING = 10
LINGER_SECONDS = 0.002


class RecordingFailed(RuntimeError):
    """The outcomes could not be committed: before the worker stopped, or because of an
    error that retrying would not mend."""


def worth_retrying(error: BaseException) -> bool:
    """The database is away, restarting or busy: the same write can succeed later."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | OSError | TimeoutError)


class Recorder:
    def __init__(
        self, database: Database, write: Writer, *, in_flight: Callable[[], int] = lambda: 0
    ) -> None:
        """``in_flight`` tells how many sends are under way: their results are worth a
        moment's wait (at most ``LINGER_SECONDS``) so that one commit carries them all."""
        self.database = database
        self.write = write
        self.in_flight = in_flight
        self._waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()  # asked once: each asking is a system call
        self._task = asyncio.create_task(self._run(), name="delivery-recorder")

    async def record(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed."""
        await self.submit(outcome)

    def submit(self, outcome: Outcome) -> asyncio.Future[None]:
        """Hand ``outcome`` over; the future is done once it is committed (outcomes are
        committed in the order they are handed over), or fails with ``RecordingFailed``."""
        loop = self._loop if self._loop is not None else asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((outcome, future))
        self._arrived.set()
        return future

    async def close(self) -> None:
        """Commit what is waiting, then stop."""
        self._closing = True
        self._arrived.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._let_go()

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            await self._linger()
            group, self._waiting = self._waiting, []
            if group:
                await self._commit(group)
            elif self._closing:
                return

    async def _linger(self) -> None:
        if not self._waiting or self._closing:
            return
        deadline = asyncio.get_running_loop().time() + LINGER_SECONDS
        while self.in_flight() > 0:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    async def _commit(self, group: list[tuple[Outcome, asyncio.Future[None]]]) -> None:
        outcomes = [outcome for outcome, _ in group]
        attempt = 0
        careful = False
        while True:
            try:
                await self._transaction(outcomes, careful=careful)
                break
            except LeasesLost:
                careful = True
            except Exception as error:
                await self._let_go()
                attempt += 1
                retrying = worth_retrying(error) and not (
                    self._closing and attempt >= ATTEMPTS_WHEN_CLOSING
                )
                log_event(
                    logger,
                    "recording outcomes failed" + ("" if retrying else "; not retried"),
                    level=logging.ERROR,
                    error=repr(error),
                    attempt=attempt,
                    campaign_ids=sorted({outcome.campaign_id for outcome in outcomes}),
                )
                if not retrying:
                    for _, future in group:
                        future.set_exception(RecordingFailed(str(error)))
                    return
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS)) - 1])
        for _, future in group:
            if not future.done():
                future.set_result(None)
        self._arrived.set()  # look again: more may have come while committing

    async def _transaction(self, outcomes: Sequence[Outcome], *, careful: bool) -> None:
        if self._connection is None:
            self._connection = await self.database.writer_connection()
        async with self._connection.begin():
            await self.write(self._connection, outcomes, careful)

    async def _let_go(self) -> None:
        """Return the connection to the pool (a broken one is discarded there)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
