"""A 3-node NATS cluster with every stream on 3 nodes (``replicas = 3``): ``kill -9`` of the
node a hub is connected to while it publishes. The hub moves to another node and publishing
goes on (a publication caught by the failover is refused and resent, as a provider does);
nothing acknowledged is lost: a bus started afterwards on the two survivors reads the last
acknowledged message of every subject."""

from __future__ import annotations

import asyncio
import time

from tests.bus.conformance import decode_text, publish
from tradewire.bus.base import Message
from tradewire.bus.nats import NatsBus
from tradewire.bus.nats_server import NatsServer
from tradewire.exceptions import BusError


async def started(servers: list[NatsServer], name: str) -> NatsBus:
    """A bus on the cluster, once it has elected its JetStream leaders."""
    deadline = time.monotonic() + 30
    while True:
        bus = NatsBus([s.url for s in servers], decode_text, name=name, replicas=3)
        try:
            await bus.start(wait_s=5)
            return bus
        except BusError:
            assert time.monotonic() < deadline, "the cluster did not form"
            await asyncio.sleep(0.5)


async def until_acked(bus: NatsBus, subject: str, text: str) -> Message:
    """Publish until acknowledged (refusals during a failover are expected), like a provider."""
    deadline = time.monotonic() + 30
    while True:
        result = await publish(bus, subject, text)
        if isinstance(result, Message):
            return result
        assert time.monotonic() < deadline, f"{subject} never acknowledged: {result}"
        await asyncio.sleep(0.2)


async def test_one_node_of_three_killed_loses_nothing_acknowledged(
    nats_cluster: list[NatsServer],
) -> None:
    hub = await started(nats_cluster, "hub")
    acked: dict[str, Message] = {}
    for n in range(10):
        for subject in ("alpha", "beta", "topic:x"):
            acked[subject] = await until_acked(hub, subject, f"{subject}-{n}")
    (connected,) = [s for s in nats_cluster if s.url == hub.server]
    connected.kill()
    alive = [s for s in nats_cluster if s is not connected]
    for n in range(10, 30):
        for subject in ("alpha", "beta", "topic:x"):
            acked[subject] = await until_acked(hub, subject, f"{subject}-{n}")
    await hub.close()
    survivors = await started(alive, "late")
    try:
        for subject, message in acked.items():
            latest = survivors.latest(subject)
            assert latest is not None and latest.line == message.line, subject
            # 30 publications, and more if one was stored although its ack was lost to the
            # failover and it was resent (a state is the whole truth: sending it again is safe)
            assert latest.seq >= 30, (subject, latest.seq)
    finally:
        await survivors.close()
