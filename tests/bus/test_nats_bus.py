"""NatsBus passes the bus conformance suite against a real nats-server, and what only a shared
bus must do: two hubs racing on one subject never hand out one seq twice and their subscribers
see the same sequence; a publication NATS cannot store fails and delivers nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest

from tests.bus.conformance import CHECKS, Recorder, decode_text, forget, publish
from tradewire.bus.base import Bus, Message
from tradewire.bus.nats import NatsBus, shown, token, untoken
from tradewire.bus.nats_server import NatsServer
from tradewire.exceptions import BusError

MakeNatsBus = Callable[..., Awaitable[NatsBus]]


@pytest.fixture
async def make_bus(nats_server: NatsServer) -> AsyncIterator[MakeNatsBus]:
    buses: list[NatsBus] = []

    async def make(name: str = "hub", timeout_s: float = 2.0) -> NatsBus:
        bus = NatsBus([nats_server.url], decode_text, name=name, publish_timeout_s=timeout_s)
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_nats_bus_conforms(
    check: Callable[[Any], Awaitable[None]], make_bus: MakeNatsBus
) -> None:
    async def make_one() -> Bus:
        return await make_bus()

    await check(make_one)


def test_nats_credentials_never_show_in_messages() -> None:
    assert shown(["tls://hub:s3cret@nats.internal:4222", "nats://10.0.0.5:4222"]) == (
        "tls://nats.internal:4222, nats://10.0.0.5:4222"
    )


def test_any_subject_is_one_nats_token_and_back() -> None:
    for subject in ("alpha", "topic:ind.EURUSD.M1.sma14", "a b*>~", "ü-_"):
        encoded = token(subject)
        assert all(c.isalnum() or c in "-_~" for c in encoded) and untoken(encoded) == subject


async def test_two_hubs_racing_on_one_subject_share_one_numbering(make_bus: MakeNatsBus) -> None:
    a, b = await make_bus("a"), await make_bus("b")
    seen_a, seen_b = Recorder(), Recorder()
    a.subscribe("ch", seen_a)
    b.subscribe("ch", seen_b)
    results = await asyncio.gather(
        *(
            publish(bus, "ch", f"{bus_name}{n}")
            for n in range(20)
            for bus_name, bus in (("a", a), ("b", b))
        )
    )
    seqs = sorted(m.seq for m in results if isinstance(m, Message))
    assert seqs == list(range(1, 41))  # every publication numbered, no number twice
    for _ in range(250):  # the other hub's last messages may still be on their way
        if len(seen_a.got) >= 40 and len(seen_b.got) >= 40:
            break
        await asyncio.sleep(0.02)
    assert [m.seq for m in seen_a.got] == list(range(1, 41))
    assert [m.line for m in seen_a.got] == [m.line for m in seen_b.got]
    # A third hub started later reads the latest from the stream, decoded.
    c = await make_bus("c")
    latest = c.latest("ch")
    assert latest is not None and latest.seq == 40 and latest.value["seq"] == 40


async def test_a_forgotten_subject_is_gone_on_every_hub_and_from_the_stream(
    make_bus: MakeNatsBus,
) -> None:
    a, b = await make_bus("a"), await make_bus("b")
    await publish(a, "topic:x", "one")
    await publish(b, "topic:x", "two")
    assert await forget(a, "topic:x") is None
    for _ in range(500):  # the other hub reads the tombstone from the stream
        if b.latest("topic:x") is None:
            break
        await asyncio.sleep(0.02)
    assert a.latest("topic:x") is None and b.latest("topic:x") is None
    assert (await make_bus("c")).latest("topic:x") is None  # not in the stream either
    again = await publish(b, "topic:x", "three")  # the other hub publishes it anew
    assert isinstance(again, Message), again
    for _ in range(500):
        if a.latest("topic:x") is not None:
            break
        await asyncio.sleep(0.02)
    latest = a.latest("topic:x")
    assert latest is not None and latest.value["text"] == "three"


async def test_a_publication_nats_cannot_store_fails_and_delivers_nothing(
    make_bus: MakeNatsBus, nats_server: NatsServer
) -> None:
    bus = await make_bus(timeout_s=0.5)
    kept = await publish(bus, "ch", "kept")
    seen = Recorder()
    bus.subscribe("ch", seen)
    nats_server.kill()
    failed = await publish(bus, "ch", "lost")
    assert isinstance(failed, BusError), failed
    assert seen.got == [] and bus.latest("ch") == kept


async def test_a_message_that_cannot_be_read_is_skipped_not_fatal(
    make_bus: MakeNatsBus, nats_server: NatsServer
) -> None:
    bus = await make_bus()
    seen = Recorder()
    bus.subscribe("ch", seen)
    other = await nats.connect(nats_server.url)
    try:  # another hub's bug: a message the decoder cannot read
        await other.jetstream().publish("tw.bus.ch", b"garbage", headers={"Tw-Seq": "1"})
    finally:
        await other.close()
    good = await publish(bus, "ch", "good")
    assert isinstance(good, Message) and [m.line for m in seen.got] == [good.line]
    assert bus.latest("ch") == good
