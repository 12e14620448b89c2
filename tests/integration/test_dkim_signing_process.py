"""The signing process: signatures made in a child process verify (dkimpy), and a process
that is gone or interrupted never costs a message its signature."""

from __future__ import annotations

import asyncio
import os
import signal

import dkim
import pytest

from campaignd.delivery import signing_process
from campaignd.delivery.dkim import KeyPair, Signer, SigningKey, generate_key
from campaignd.delivery.messages import CampaignContent, Message, MessageBuilder

DOMAIN = "acme.example"


def message(index: int) -> Message:
    content = CampaignContent(
        campaign_id=1,
        organization_id=1,
        subject="Hello {{ name }}, a subject long enough to be folded, surely it is",
        html_body="<p>Hi   {{ name }}</p>\n\n",
        text_body="Hi {{ name }}  \n.a dot\n",
        from_address=f"News <news@{DOMAIN}>",
        organization="acme",
    )
    builder = MessageBuilder(
        content,
        public_url="https://mail.example.org",
        unsubscribe_secret="s" * 64,
        installation="t",
    )
    return builder.build(index, f"person{index}@example.org", {"name": f"Zoë {index}"})


@pytest.fixture(scope="module")
def pairs() -> dict[str, KeyPair]:
    return {"rsa": generate_key("rsa"), "ed25519": generate_key("ed25519")}


def dual_signer(pairs: dict[str, KeyPair]) -> Signer:
    return Signer(
        [SigningKey.from_pem(DOMAIN, selector, pairs[selector].private_pem) for selector in pairs]
    )


def verified(data: bytes, pairs: dict[str, KeyPair]) -> list[bool]:
    def records(name: bytes, timeout: int = 5) -> bytes | None:
        selector = name.decode().split(".", 1)[0]
        pair = pairs.get(selector)
        if pair is None:
            return None
        return f"v=DKIM1; k={pair.algorithm}; p={pair.public_key}".encode()

    return [
        bool(dkim.DKIM(data).verify(idx=index, dnsfunc=records))
        for index in range(data.count(b"DKIM-Signature:"))
    ]


async def test_signatures_are_made_in_a_child_process_and_verify(
    pairs: dict[str, KeyPair],
) -> None:
    signer = dual_signer(pairs)
    built = [message(index) for index in range(20)]
    signed = await asyncio.gather(*(signer.sign(each) for each in built))

    [child] = signing_process.process_ids()
    assert child != os.getpid()
    for original, each in zip(built, signed, strict=True):
        assert each.data.endswith(original.data)
        assert verified(each.data, pairs) == [True, True]


async def test_a_process_that_is_gone_leaves_the_signing_to_the_event_loop(
    pairs: dict[str, KeyPair],
) -> None:
    signer = dual_signer(pairs)
    await signer.sign(message(1))
    [child] = signing_process.process_ids()

    os.kill(child, signal.SIGKILL)
    after = await asyncio.gather(*(signer.sign(message(index)) for index in range(2, 6)))

    assert all(verified(each.data, pairs) == [True, True] for each in after)
    assert signing_process.process_ids() == []  # not restarted at once
    signing_process._retry_at = 0.0  # as if RETRY_SECONDS had passed
    again = await signer.sign(message(7))
    assert verified(again.data, pairs) == [True, True]
    [restarted] = signing_process.process_ids()
    assert restarted != child


async def test_ctrl_c_of_the_terminal_does_not_stop_the_signing_process(
    pairs: dict[str, KeyPair],
) -> None:
    signer = dual_signer(pairs)
    await signer.sign(message(1))
    [child] = signing_process.process_ids()

    os.kill(child, signal.SIGINT)
    os.kill(child, signal.SIGTERM)
    signed = await signer.sign(message(2))

    assert verified(signed.data, pairs) == [True, True]
    assert signing_process.process_ids() == [child]


async def test_a_key_the_process_cannot_load_fails_the_message(
    pairs: dict[str, KeyPair],
) -> None:
    signer = dual_signer(pairs)
    broken = signing_process.SignerIdentity(b"broken", ((DOMAIN, "rsa", b"not a key"),))
    signer._identity = broken

    with pytest.raises(RuntimeError, match="DKIM signing failed"):
        await signer.sign(message(1))
    assert verified((await dual_signer(pairs).sign(message(2))).data, pairs) == [True, True]
