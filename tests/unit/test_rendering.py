"""Which campaigns the render thread takes over: only those whose templates are slow, not
those whose render was held up by the machine."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

from campaignd.delivery.jobs import Job
from campaignd.delivery.messages import Message, MessageBuilder
from campaignd.delivery.rendering import (
    CPU_READING_SECONDS,
    INLINE_TIMEOUT,
    CampaignBuilders,
    CpuClock,
    RenderThread,
)
from campaignd.domain.templates import RenderLimitExceeded


class Builder:
    """Stands for a MessageBuilder: over the inline deadline after ``cpu`` seconds of CPU
    (``over``), or a message at once."""

    def __init__(self, *, over: bool, cpu: float = 0.0) -> None:
        self.over = over
        self.cpu = cpu
        self.builds = 0

    def build(self, delivery_id: int, email: str, variables: Mapping[str, Any] | None) -> Message:
        self.builds += 1
        if self.over:
            started = time.thread_time()
            while time.thread_time() - started < self.cpu:
                pass
            raise RenderLimitExceeded("body", "rendering takes longer than the limit")
        return Message(f"{delivery_id}@x", "a@x.org", email, b"data")


def builders(inline: Builder, full: Builder) -> CampaignBuilders:
    return CampaignBuilders(full=cast(MessageBuilder, full), inline=cast(MessageBuilder, inline))


def job(delivery_id: int) -> Job:
    return Job(delivery_id=delivery_id, campaign_id=7, email="b@y.org", variables=None, attempts=0)


async def test_a_render_held_up_by_the_machine_leaves_the_campaign_inline() -> None:
    thread = RenderThread()
    try:
        held_up = builders(Builder(over=True), Builder(over=False))
        message = await thread.message(held_up, job(1))
        assert message.message_id == "1@x"  # rendered again in the thread
        quick = Builder(over=False)
        full = Builder(over=False)
        await thread.message(builders(quick, full), job(2))
        assert (quick.builds, full.builds) == (1, 0)  # the campaign stays inline
    finally:
        thread.close()


async def test_a_render_slow_on_the_cpu_moves_the_campaign_to_the_thread() -> None:
    thread = RenderThread()
    try:
        slow = builders(Builder(over=True, cpu=INLINE_TIMEOUT), Builder(over=False))
        assert (await thread.message(slow, job(1))).message_id == "1@x"
        quick = Builder(over=False)
        full = Builder(over=False)
        await thread.message(builders(quick, full), job(2))
        assert (quick.builds, full.builds) == (0, 1)  # every later message in the thread
    finally:
        thread.close()


async def test_a_campaign_marked_slow_is_tried_inline_again_and_comes_back() -> None:
    thread = RenderThread(retry_inline_seconds=0.0)
    try:
        slow = builders(Builder(over=True, cpu=INLINE_TIMEOUT), Builder(over=False))
        await thread.message(slow, job(1))
        quick = Builder(over=False)
        full = Builder(over=False)
        await thread.message(builders(quick, full), job(2))
        await thread.message(builders(quick, full), job(3))
        assert (quick.builds, full.builds) == (2, 0)  # inline again: the spike is forgotten
    finally:
        thread.close()


async def test_a_campaign_still_slow_when_tried_again_stays_in_the_thread() -> None:
    thread = RenderThread(retry_inline_seconds=0.0)
    try:
        slow = builders(Builder(over=True, cpu=INLINE_TIMEOUT), Builder(over=False))
        await thread.message(slow, job(1))
        still = Builder(over=True)  # over the deadline again, even without the CPU
        full = Builder(over=False)
        assert (await thread.message(builders(still, full), job(2))).message_id == "2@x"
        assert (still.builds, full.builds) == (1, 1)
        waiting = RenderThread()  # the default: a second before the next inline try
        await waiting.message(slow, job(3))
        quick, full = Builder(over=False), Builder(over=False)
        await waiting.message(builders(quick, full), job(4))
        assert (quick.builds, full.builds) == (0, 1)
        waiting.close()
    finally:
        thread.close()


def test_the_cpu_clock_counts_a_slow_render_and_never_more_than_it_used() -> None:
    clock = CpuClock()
    burnt_from = time.thread_time()  # before the clock's own reading: the upper bound holds
    started = clock.start()
    while time.thread_time() - burnt_from < INLINE_TIMEOUT:
        pass
    used = clock.used_since(started)
    assert INLINE_TIMEOUT - CPU_READING_SECONDS <= used <= time.thread_time() - burnt_from
    again = clock.start()  # the reading is reused or taken anew: the bound holds either way
    assert clock.used_since(again) <= time.thread_time() - burnt_from - used + 0.0001
