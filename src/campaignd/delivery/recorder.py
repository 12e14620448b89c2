"""Group commit of delivery outcomes.

Every connection hands its result over and waits until it is committed before sending its
next message, so a crash can repeat at most one message per connection; the outcomes that
arrive while one transaction commits go together into the next.

The recorder keeps one database connection for its transactions instead of taking one
from the pool for each (a checkout, PostgreSQL's pre-ping and the return to the pool cost
a fifth to a quarter of a commit); after any error it lets that connection go and takes
a fresh, checked one from the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.logs import log_event
from campaignd.store.database import Database
from campaignd.store.queue import Outcome

logger = logging.getLogger("campaignd.delivery")

Writer = Callable[[AsyncConnection, Sequence[Outcome]], Awaitable[None]]
RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
ATTEMPTS_WHEN_CLOSING = 10
LINGER_SECONDS = 0.002


class RecordingFailed(RuntimeError):
    """The outcomes could not be committed before the worker stopped."""


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

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-recorder")

    async def record(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed."""
        await self.submit(outcome)

    def submit(self, outcome: Outcome) -> asyncio.Future[None]:
        """Hand ``outcome`` over; the future is done once it is committed (outcomes are
        committed in the order they are handed over), or fails with ``RecordingFailed``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
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
        while True:
            try:
                await self._transaction(outcomes)
                break
            except Exception as error:  # the database may be away for a while: keep trying
                await self._let_go()
                attempt += 1
                log_event(
                    logger,
                    "recording outcomes failed",
                    level=logging.ERROR,
                    error=repr(error),
                    attempt=attempt,
                    campaign_ids=sorted({outcome.campaign_id for outcome in outcomes}),
                )
                if self._closing and attempt >= ATTEMPTS_WHEN_CLOSING:
                    for _, future in group:
                        future.set_exception(RecordingFailed(str(error)))
                    return
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS)) - 1])
        for _, future in group:
            if not future.done():
                future.set_result(None)
        self._arrived.set()  # look again: more may have come while committing

    async def _transaction(self, outcomes: Sequence[Outcome]) -> None:
        if self._connection is None:
            self._connection = await self.database.writer_connection()
        async with self._connection.begin():
            await self.write(self._connection, outcomes)

    async def _let_go(self) -> None:
        """Return the connection to the pool (a broken one is discarded there)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
