"""DKIM: what a signature costs, and delivery with RSA-2048 signing beside unsigned.

- Signing cost per message (CPU, one thread, the benchmark campaign's message of about
  2 KB): dkimpy's ``dkim.sign`` (pure-Python RSA and canonicalization) against campaignd's
  signer (``cryptography``; the canonical forms and the private-key operation run in the
  worker's signing process), and what the event loop pays per message it hands over to the
  signing process (8 messages at a time, as 8 connections do).
- Delivery from one worker process at ``--connections`` (default 8) on SQLite, the same
  campaign unsigned and then signed with an RSA-2048 key, alternating (three rounds each,
  one with ``--quick``), medians reported; to two sinks, each in its own process: the
  minimal asyncio server of issue 16's ceiling (light on CPU) and aiosmtpd (a complete
  server in Python, which takes a good part of the 2 cores). With each: the worker's CPU
  per message (all its threads and its signing process) and the sink's.

``python -m benchmarks --only dkim`` runs it as a section; ``python -m benchmarks.dkim``
prints the signing costs alone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ceiling import cpu_seconds
from benchmarks.common import (
    HTML_BODY,
    SUBJECT,
    TEXT_BODY,
    SmtpSink,
    bench_settings,
    database_url,
    seed_queued,
    variables_of,
    worker_burst,
)
from benchmarks.report import Figure, Report
from campaignd.delivery.dkim import Signer, SigningKey, generate_key
from campaignd.delivery.messages import CampaignContent, Message, MessageBuilder
from campaignd.runtime import run_event_loop
from campaignd.store.database import Database

DOMAIN = "shop.example.org"
SELECTOR = "bench"
TARGET_RATE = 1_500
TARGET_SHARE = 0.60


def sample_message() -> Message:
    """The delivery benchmark's message for one recipient, as the worker builds it."""
    content = CampaignContent(
        campaign_id=1,
        organization_id=1,
        subject=SUBJECT,
        html_body=HTML_BODY,
        text_body=TEXT_BODY,
        from_address=f"Example Shop <news@{DOMAIN}>",
        organization="bench",
    )
    builder = MessageBuilder(
        content, public_url="http://127.0.0.1:8000", unsubscribe_secret="s" * 64, installation="b"
    )
    return builder.build(7, "person7@example.org", variables_of(7))


def _cpu_per_call(function: Callable[[], object], calls: int) -> float:
    """Microseconds of CPU per call of ``function`` on this thread."""
    function()
    started = time.thread_time()
    for _ in range(calls):
        function()
    return (time.thread_time() - started) / calls * 1e6


def signing_costs(calls: int = 300) -> dict[str, float]:
    """µs of CPU per message for each way of signing the sample message."""
    import dkim

    data = sample_message().data
    rsa_pair = generate_key("rsa")
    ed_pair = generate_key("ed25519")
    rsa_key = SigningKey.from_pem(DOMAIN, "r", rsa_pair.private_pem)
    ed_key = SigningKey.from_pem(DOMAIN, "e", ed_pair.private_pem)
    rsa_signer, ed_signer, dual = Signer([rsa_key]), Signer([ed_key]), Signer([rsa_key, ed_key])
    prepared = rsa_signer.prepare(data)
    return {
        "dkimpy, RSA-2048": _cpu_per_call(
            lambda: dkim.sign(
                data,
                SELECTOR.encode(),
                DOMAIN.encode(),
                rsa_pair.private_pem,
                canonicalize=(b"relaxed", b"relaxed"),
            ),
            max(20, calls // 10),
        ),
        "campaignd, RSA-2048": _cpu_per_call(lambda: rsa_signer.sign_now(data), calls),
        "campaignd, RSA-2048: of which the canonical forms": _cpu_per_call(
            lambda: rsa_signer.prepare(data), calls
        ),
        "campaignd, RSA-2048: of which the private-key operation": _cpu_per_call(
            lambda: rsa_signer.signatures(prepared), calls
        ),
        "campaignd, Ed25519": _cpu_per_call(lambda: ed_signer.sign_now(data), calls),
        "campaignd, RSA-2048 + Ed25519": _cpu_per_call(lambda: dual.sign_now(data), calls),
    }


def _sign_rsa(pem: bytes, data: bytes, count: int) -> None:
    key = SigningKey.from_pem(DOMAIN, "r", pem)
    for _ in range(count):
        key.sign(data)


def parallel_signing(signatures: int = 1_000) -> dict[str, float]:
    """RSA-2048 signatures per second with one thread, two threads and two processes: does
    ``cryptography`` let two threads sign at once (it would if it released the interpreter
    lock during the private-key operation)?"""
    import threading

    pem, data = generate_key("rsa").private_pem, sample_message().data[:600]
    _sign_rsa(pem, data, 10)
    rates: dict[str, float] = {}
    started = time.perf_counter()
    _sign_rsa(pem, data, signatures)
    rates["1 thread"] = signatures / (time.perf_counter() - started)
    half = signatures // 2
    arguments = (pem, data, half)
    for name, workers in (
        ("2 threads", [threading.Thread(target=_sign_rsa, args=arguments) for _ in range(2)]),
        (
            "2 processes",
            [
                multiprocessing.get_context("fork").Process(target=_sign_rsa, args=arguments)
                for _ in range(2)
            ],
        ),
    ):
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        rates[name] = 2 * half / (time.perf_counter() - started)
    return rates


def hand_over_cost(messages: int = 2_000, together: int = 8) -> float:
    """µs of the event loop's CPU per message signed by the signing process (RSA-2048),
    ``together`` messages at a time: the hand-over, not the signature."""
    signer = Signer([SigningKey.from_pem(DOMAIN, "r", generate_key("rsa").private_pem)])
    message = sample_message()

    async def sign_all() -> float:
        await signer.sign(message)  # the signing process starts

        async def some(count: int) -> None:
            for _ in range(count):
                await signer.sign(message)

        started = time.process_time()
        await asyncio.gather(*(some(messages // together) for _ in range(together)))
        return (time.process_time() - started) / (messages // together * together) * 1e6

    return run_event_loop(sign_all())


async def _queue(url: str, messages: int, *, signed: bool) -> None:
    """The delivery benchmark's campaign, queued; with an RSA-2048 key for its domain when
    ``signed``, checked by building one message as a worker does and verifying it."""
    from campaignd.actions import dkim as actions
    from campaignd.actions.principal import Principal, Role
    from campaignd.actions.services import Services
    from campaignd.wakeups import LocalWakeups

    database = Database(url)
    try:
        audience = await seed_queued(database, messages)
        if signed:
            services = Services(database, bench_settings(url), LocalWakeups())
            view = await actions.add_key(
                services,
                Principal(actor="benchmark", role=Role.PLATFORM_ADMIN),
                domain=DOMAIN,
                selector=SELECTOR,
                algorithm="rsa",
                organization="bench",
            )
            await _check_signed(database, url, audience.campaign_id, view.record_value)
    finally:
        await database.dispose()


async def _check_signed(database: Database, url: str, campaign_id: int, record: str) -> None:
    import dkim

    from campaignd.delivery.builders import Builders
    from campaignd.delivery.rendering import CampaignBuilders, RenderThread

    thread = RenderThread()
    built = await Builders(database, bench_settings(url), thread=thread).load(campaign_id)
    thread.close()
    assert isinstance(built, CampaignBuilders) and built.signer is not None, "not signed"
    message = await built.signer.sign(built.full.build(1, "person1@example.org", variables_of(1)))
    verified = dkim.verify(message.data, dnsfunc=lambda name, timeout=5: record.encode())
    assert verified, "the benchmark's signature does not verify"


def _worker(url: str, transport: str, connections: int, go: Any, results: Any) -> None:
    """One worker process (as ``benchmarks.common`` starts them), reporting its wall time and
    the CPU it used: every thread of the process (the event loop, the render thread) and
    the signing process it started."""
    import campaignd.delivery.worker  # noqa: F401  (imported before the clock starts)
    from campaignd.delivery import signing_process

    go.wait()
    started, cpu = time.perf_counter(), time.process_time()
    run_event_loop(worker_burst(url, transport, connections))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    helpers = sum(cpu_seconds(pid) for pid in signing_process.process_ids())
    results.put((seconds, cpu + helpers))


@dataclass(frozen=True)
class Delivered:
    """One delivery run: messages/s, and µs of CPU per message of the worker (with its
    signing process) and of the sink."""

    rate: float
    worker_cpu: float
    sink_cpu: float


def _delivery(
    directory: Path, messages: int, connections: int, *, signed: bool, sink_kind: str
) -> Delivered:
    """One worker process draining ``messages`` queued deliveries into a ``sink_kind`` sink."""
    context = multiprocessing.get_context("spawn")
    with SmtpSink(kind=sink_kind) as sink, database_url("sqlite", directory, None) as url:
        asyncio.run(_queue(url, messages, signed=signed))
        go, results = context.Event(), context.Queue()
        child = context.Process(target=_worker, args=(url, sink.url, connections, go, results))
        child.start()
        time.sleep(1.5)
        sink_started = cpu_seconds(sink.pid)
        go.set()
        seconds, cpu = results.get(timeout=3600)
        sink_cpu = cpu_seconds(sink.pid) - sink_started
        child.join(30)
        received = sink.received
    if received != messages:
        raise RuntimeError(f"the sink received {received:,} of {messages:,} messages")
    return Delivered(received / seconds, cpu / received * 1e6, sink_cpu / received * 1e6)


SINKS = (
    ("minimal", "minimal asyncio sink (issue 16's ceiling server)"),
    ("aiosmtpd", "aiosmtpd sink"),
)


def measure_dkim(
    report: Report,
    step: Callable[[str], None],
    *,
    messages: int,
    connections: int,
    directory: Path,
    quick: bool,
) -> None:
    """The DKIM figures of ``python -m benchmarks``."""
    step("DKIM: CPU per signature of the benchmark message, dkimpy and campaignd")
    costs = signing_costs(100 if quick else 300)
    costs["campaignd, RSA-2048: the event loop's hand-over to the signing process"] = (
        hand_over_cost(500 if quick else 2_000)
    )
    dkimpy = costs["dkimpy, RSA-2048"]
    for name, value in costs.items():
        report.add(
            Figure(
                section="dkim",
                name=f"signing cost, {name}",
                value=value,
                unit="µs CPU/msg",
                baseline=dkimpy if name == "campaignd, RSA-2048" else None,
                baseline_note="dkimpy" if name == "campaignd, RSA-2048" else "",
                note="the worker process's CPU, 8 messages at a time"
                if "hand-over" in name
                else "one thread, a 2 KB multipart message",
            )
        )
    step("DKIM: RSA-2048 signatures per second in one thread, two threads, two processes")
    parallel = parallel_signing(400 if quick else 2_000)
    for name, rate in parallel.items():
        report.add(
            Figure(
                section="dkim",
                name=f"RSA-2048 signatures per second, {name}",
                value=rate,
                unit="sig/s",
                baseline=parallel["1 thread"] if name != "1 thread" else None,
                baseline_note="1 thread" if name != "1 thread" else "",
                note="wall clock; a second thread signs beside the first if the lock is released",
            )
        )
    rounds = 1 if quick else 3
    for sink_kind, sink_name in SINKS:
        runs: dict[bool, list[Delivered]] = {False: [], True: []}
        for round_number in range(1, rounds + 1):
            for is_signed in (False, True):
                kind = "signed, RSA-2048" if is_signed else "unsigned"
                step(
                    f"DKIM delivery round {round_number}/{rounds}: {messages:,} messages "
                    f"{kind}, 1 process, {connections} connections, {sink_name}"
                )
                runs[is_signed].append(
                    _delivery(
                        directory, messages, connections, signed=is_signed, sink_kind=sink_kind
                    )
                )
        _report_sink(report, sink_name, runs, connections, rounds)


def _report_sink(
    report: Report,
    sink_name: str,
    runs: dict[bool, list[Delivered]],
    connections: int,
    rounds: int,
) -> None:
    def median(is_signed: bool, value: Callable[[Delivered], float]) -> float:
        return statistics.median(value(run) for run in runs[is_signed])

    rounds_note = "" if rounds == 1 else f", median of {rounds} alternating rounds"
    processes: list[tuple[str, Callable[[Delivered], float], str]] = [
        (
            "worker",
            lambda run: run.worker_cpu,
            "the worker process (all its threads) and its signing process",
        ),
        ("sink", lambda run: run.sink_cpu, "the SMTP sink's process"),
    ]
    for is_signed in (False, True):
        label = "signed" if is_signed else "unsigned"
        for process, cpu, note in processes:
            report.add(
                Figure(
                    section="dkim",
                    name=f"{process} CPU per message, {label}, {sink_name}",
                    value=median(is_signed, cpu),
                    unit="µs/msg",
                    baseline=median(False, cpu) if is_signed else None,
                    baseline_note="unsigned" if is_signed else "",
                    note=note,
                )
            )
    plain = median(False, lambda run: run.rate)
    with_dkim = median(True, lambda run: run.rate)

    def rates(is_signed: bool) -> str:
        return " / ".join(f"{run.rate:,.0f}" for run in runs[is_signed])

    report.add(
        Figure(
            section="dkim",
            name=f"delivery unsigned, SQLite, 1 process, {sink_name}",
            value=plain,
            unit="msg/s",
            note=f"{connections} connections{rounds_note}: {rates(False)}",
        )
    )
    report.add(
        Figure(
            section="dkim",
            name=f"delivery signed (RSA-2048), SQLite, 1 process, {sink_name}",
            value=with_dkim,
            unit="msg/s",
            baseline=plain,
            baseline_note="unsigned, same run",
            target=f">= {TARGET_RATE:,}/s, >= {TARGET_SHARE:.0%} of unsigned",
            met=with_dkim >= TARGET_RATE and with_dkim >= TARGET_SHARE * plain,
            note=f"{connections} connections{rounds_note}: {rates(True)}",
        )
    )


def main() -> None:
    for name, value in signing_costs().items():
        print(f"{name:>72}: {value:8.1f} µs CPU per message")
    print(
        f"{'campaignd, RSA-2048: the event loop, per message handed over':>72}: "
        f"{hand_over_cost():8.1f} µs CPU per message"
    )
    for name, rate in parallel_signing().items():
        print(f"{'RSA-2048 signatures per second, ' + name:>72}: {rate:8.0f}")


if __name__ == "__main__":
    main()
