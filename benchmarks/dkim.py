"""DKIM: what a signature costs, and delivery with RSA-2048 signing beside unsigned.

- Signing cost per message (CPU, one thread, the benchmark campaign's message of about
  2 KB): dkimpy's ``dkim.sign`` (pure-Python RSA and canonicalization) against campaignd's
  signer (``cryptography``: the canonical forms on the event loop, the private-key
  operation in a signing thread).
- Delivery from one worker process at ``--connections`` (default 8) to the aiosmtpd sink on
  SQLite, the same campaign unsigned and then signed with an RSA-2048 key, alternating
  (three rounds each, one with ``--quick``), medians reported.

``python -m benchmarks --only dkim`` runs it as a section; ``python -m benchmarks.dkim``
prints the signing costs alone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        "campaignd, RSA-2048: on the event loop (canonical forms)": _cpu_per_call(
            lambda: rsa_signer.prepare(data), calls
        ),
        "campaignd, RSA-2048: in the signing thread (private key)": _cpu_per_call(
            lambda: rsa_signer.signatures(prepared), calls
        ),
        "campaignd, Ed25519": _cpu_per_call(lambda: ed_signer.sign_now(data), calls),
        "campaignd, RSA-2048 + Ed25519": _cpu_per_call(lambda: dual.sign_now(data), calls),
    }


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
    the CPU it used (every thread: the event loop and the signing threads)."""
    import campaignd.delivery.worker  # noqa: F401  (imported before the clock starts)

    go.wait()
    started, cpu = time.perf_counter(), time.process_time()
    run_event_loop(worker_burst(url, transport, connections))
    results.put((time.perf_counter() - started, time.process_time() - cpu))


def _delivery(
    directory: Path, messages: int, connections: int, *, signed: bool
) -> tuple[float, float]:
    """(messages per second, µs of the worker's CPU per message) from one worker process."""
    context = multiprocessing.get_context("spawn")
    with SmtpSink(kind="aiosmtpd") as sink, database_url("sqlite", directory, None) as url:
        asyncio.run(_queue(url, messages, signed=signed))
        go, results = context.Event(), context.Queue()
        child = context.Process(target=_worker, args=(url, sink.url, connections, go, results))
        child.start()
        time.sleep(1.5)
        go.set()
        seconds, cpu = results.get(timeout=3600)
        child.join(30)
        received = sink.received
    if received != messages:
        raise RuntimeError(f"the sink received {received:,} of {messages:,} messages")
    return received / seconds, cpu / received * 1e6


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
                note="one thread, a 2 KB multipart message",
            )
        )
    rounds = 1 if quick else 3
    unsigned: list[float] = []
    signed: list[float] = []
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for round_number in range(1, rounds + 1):
        for is_signed, rates in ((False, unsigned), (True, signed)):
            kind = "signed, RSA-2048" if is_signed else "unsigned"
            step(
                f"DKIM delivery round {round_number}/{rounds}: {messages:,} messages {kind}, "
                f"1 process, {connections} connections, aiosmtpd sink"
            )
            rate, per_message = _delivery(directory, messages, connections, signed=is_signed)
            rates.append(rate)
            cpu[is_signed].append(per_message)
    plain, with_dkim = statistics.median(unsigned), statistics.median(signed)
    rounds_note = "" if rounds == 1 else f", median of {rounds} alternating rounds"
    for is_signed in (False, True):
        report.add(
            Figure(
                section="dkim",
                name=f"worker CPU per message, {'signed' if is_signed else 'unsigned'}",
                value=statistics.median(cpu[is_signed]),
                unit="µs/msg",
                baseline=statistics.median(cpu[False]) if is_signed else None,
                baseline_note="unsigned" if is_signed else "",
                note="event loop and signing threads of the worker process",
            )
        )
    report.add(
        Figure(
            section="dkim",
            name="delivery unsigned, SQLite, 1 process",
            value=plain,
            unit="msg/s",
            note=f"{connections} connections, aiosmtpd sink{rounds_note}: "
            + " / ".join(f"{rate:,.0f}" for rate in unsigned),
        )
    )
    report.add(
        Figure(
            section="dkim",
            name="delivery signed (RSA-2048), SQLite, 1 process",
            value=with_dkim,
            unit="msg/s",
            baseline=plain,
            baseline_note="unsigned, same run",
            target=f">= {TARGET_RATE:,}/s, >= {TARGET_SHARE:.0%} of unsigned",
            met=with_dkim >= TARGET_RATE and with_dkim >= TARGET_SHARE * plain,
            note=f"{connections} connections, aiosmtpd sink{rounds_note}: "
            + " / ".join(f"{rate:,.0f}" for rate in signed),
        )
    )


def main() -> None:
    for name, value in signing_costs().items():
        print(f"{name:>60}: {value:8.1f} µs CPU per message")


if __name__ == "__main__":
    main()
