"""A sender: one transport connection sending one message after another.

Messages are rendered as in ``rendering`` (a slow template never holds the event loop),
then signed when the campaign's From domain has DKIM keys (``dkim``: the signature is made
in the worker's signing process).
Before a transaction starts, and again right before the message's content goes out, the
sender checks that the delivery may still be sent (``Hands.sendable``: the worker is not
stopping, the campaign was not halted, the lease is held with time to spare). These are
local checks; a delivery that fails one is set aside and handed back unsent.

A result is handed to the recorder without waiting for its commit: the next message is
rendered and its envelope (MAIL, RCPT) sent meanwhile, and only its content waits for
that commit. So a connection never has more than one message accepted by the server and
not recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from campaignd import metrics
from campaignd.delivery.builders import Builders
from campaignd.delivery.hands import Hands
from campaignd.delivery.jobs import Job
from campaignd.delivery.outcomes import failed, outcome_of
from campaignd.delivery.rate import RateLimiter
from campaignd.delivery.recorder import Recorder, RecordingFailed
from campaignd.delivery.rendering import Busy, CampaignBuilders, RenderThread
from campaignd.delivery.transports import Ready, Reply, Transport
from campaignd.domain.lifecycle import DeliveryStatus
from campaignd.logs import log_event
from campaignd.settings import Settings
from campaignd.store import queue
from campaignd.store.columns import utcnow

logger = logging.getLogger("campaignd.delivery")

OUTCOME_LABELS = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.QUEUED: "retry",
    DeliveryStatus.FAILED: "failed",
}


class Withdrawn(Exception):
    """The delivery may not be sent now (its campaign was halted, its lease is running
    out, the worker is stopping, its slow render must wait): it is handed back unsent."""


class InFlight:
    """How many senders hold a message whose result can arrive before the next commit: the
    recorder lingers a moment for them so that one commit carries them all."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


class _Flight:
    """Whether one sender counts as in flight. A sender whose previous result is not
    committed yet cannot send its message's content before that commit, so it counts only
    once that commit is done (``take_off``); it stops counting when its result is handed
    over or the message is given up (``land``)."""

    def __init__(self, in_flight: InFlight, *, counted: bool) -> None:
        self.in_flight = in_flight
        self.counted = False
        if counted:
            self.take_off()

    def take_off(self) -> None:
        if not self.counted:
            self.counted = True
            self.in_flight.count += 1

    def land(self) -> None:
        if self.counted:
            self.counted = False
            self.in_flight.count -= 1


class Sender:
    def __init__(
        self,
        hands: Hands,
        settings: Settings,
        *,
        transport: Transport,
        recorder: Recorder,
        builders: Builders,
        thread: RenderThread,
        in_flight: InFlight,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.hands = hands
        self.settings = settings
        self.transport = transport
        self.recorder = recorder
        self.builders = builders
        self.thread = thread
        self.in_flight = in_flight
        self.rate_limiter = rate_limiter

    async def run(self) -> None:
        """Until the stop signal (``None``) is taken from the queue; raises
        ``RecordingFailed`` when outcomes cannot be recorded (nothing more is sent)."""
        committing: asyncio.Future[None] | None = None  # the commit of the last result
        while True:
            job = await self.hands.jobs.get()
            if job is None:
                self.hands.stop_signal_taken()
                return
            if not self.hands.sendable(job):
                self.hands.set_aside(job)
                continue
            flight = _Flight(self.in_flight, counted=committing is None or committing.done())
            try:
                outcome = await self._deliver(job, self._ready(job, committing, flight))
            except Withdrawn:
                self.hands.set_aside(job)
                continue
            except RecordingFailed:
                self.hands.set_aside(job)
                raise
            except Exception as error:
                log_event(
                    logger,
                    "delivery failed unexpectedly",
                    level=logging.ERROR,
                    campaign_id=job.campaign_id,
                    delivery_id=job.delivery_id,
                    error=repr(error),
                )
                outcome = self._outcome(job, Reply(None, f"internal error: {error!r}"))
            finally:
                flight.land()
            committing = self.recorder.submit(outcome)
            committing.add_done_callback(partial(self._committed, job, outcome))

    def _ready(self, job: Job, committing: asyncio.Future[None] | None, flight: _Flight) -> Ready:
        """Waits until the previous result of this sender is committed (meanwhile the sender
        is not in flight), then checks that ``job`` may still be sent: ``RecordingFailed``
        if that commit failed, ``Withdrawn`` if the delivery may not be sent any more."""

        async def ready() -> None:
            if committing is not None:
                if not committing.done():
                    await asyncio.shield(committing)
                committing.result()
            flight.take_off()
            if not self.hands.sendable(job):
                raise Withdrawn(job.delivery_id)

        return ready

    def _committed(
        self, job: Job, outcome: queue.Outcome, committing: asyncio.Future[None]
    ) -> None:
        if not committing.cancelled() and committing.exception() is None:
            _counted(_label(outcome)).inc()
        self.hands.done_with(job)

    async def _deliver(self, job: Job, ready: Ready) -> queue.Outcome:
        builders = self.builders.get(job.campaign_id)
        if not isinstance(builders, CampaignBuilders):
            return failed(job.delivery_id, job.campaign_id, job.email, str(builders))
        try:
            message = await self.thread.message(builders, job)
        except Busy:
            raise Withdrawn(job.delivery_id) from None
        except Exception as error:
            error_text = f"template: {type(error).__name__}: {error}"
            return failed(job.delivery_id, job.campaign_id, job.email, error_text)
        if builders.signer is not None:
            message = await builders.signer.sign(message)
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire()
        if not self.hands.sendable(job):
            raise Withdrawn(job.delivery_id)
        started = time.perf_counter()
        try:
            reply = await self.transport.send(message, ready)
        except (Withdrawn, RecordingFailed):
            raise
        except Exception as error:
            reply = Reply(None, f"transport error: {type(error).__name__}: {error}")
        metrics.send_latency.observe(time.perf_counter() - started)
        return self._outcome(job, reply)

    def _outcome(self, job: Job, reply: Reply) -> queue.Outcome:
        return outcome_of(
            reply,
            delivery_id=job.delivery_id,
            campaign_id=job.campaign_id,
            email=job.email,
            attempts=job.attempts,
            max_attempts=self.settings.max_attempts,
            retry_backoff=self.settings.retry_backoff,
            now=utcnow(),
        )


_COUNTERS: dict[str, Any] = {}


def _counted(label: str) -> Any:
    """The deliveries counter of one outcome label, looked up once (``labels`` takes a
    lock and builds its key on every call)."""
    counter = _COUNTERS.get(label)
    if counter is None:
        counter = _COUNTERS[label] = metrics.deliveries.labels(outcome=label)
    return counter


def _label(outcome: queue.Outcome) -> str:
    if outcome.suppress_as:
        return "bounced"
    return OUTCOME_LABELS.get(outcome.status, outcome.status.value)
