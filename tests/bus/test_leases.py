"""Leases of the copy engine's accounts in a real nats-server's JetStream KV
(clients/leases.py): one holder per account, a stale renewal refused, an expired lease taken by
another engine, engines sharing the accounts, and an engine cut off from NATS stopping its
accounts before their leases can expire."""

from __future__ import annotations

import asyncio
import time

from tradewire.bus.nats_server import NatsServer
from tradewire.clients.leases import FENCE_S, RENEW_S, TTL_S, LeaseBucket, LeaseKeeper


async def test_one_holder_a_stale_renewal_refused_and_an_expired_lease_taken(
    nats_server: NatsServer,
) -> None:
    one = await LeaseBucket.connect(nats_server.url, "t1", "one")
    two = await LeaseBucket.connect(nats_server.url, "t1", "two")
    try:
        first = await one.take("alice")
        assert first is not None
        assert await two.take("alice") is None  # held
        second = await one.renew("alice", first)
        assert second is not None and second > first
        assert await one.renew("alice", first) is None  # a stale revision: not ours any more
        assert await one.leased() == {"alice"}
        stopped = time.monotonic()  # one stops renewing (as if killed): free TTL_S later
        while await two.take("alice") is None:  # the server expires it on a timer of its own
            assert time.monotonic() - stopped < TTL_S + 3
            await asyncio.sleep(0.1)
        assert time.monotonic() - stopped >= TTL_S - 0.2  # not before its time
        assert await one.renew("alice", second) is None
        assert await one.beat() == 1  # the first engine to beat sees itself
        assert await two.beat() == 2
    finally:
        await one.close()
        await two.close()


class Accounts:
    """What a keeper's engine copies, and when it stopped each."""

    def __init__(self) -> None:
        self.copying: set[str] = set()
        self.stopped: dict[str, float] = {}

    async def start(self, name: str) -> bool:
        self.copying.add(name)
        return True

    async def stop(self, name: str) -> None:
        self.copying.discard(name)
        self.stopped[name] = time.monotonic()


async def test_engines_share_the_accounts_and_fence_themselves_when_cut_off(
    nats_server: NatsServer,
) -> None:
    names = ["a", "b", "c", "d", "e"]
    engines = [Accounts(), Accounts()]
    buckets = [await LeaseBucket.connect(nats_server.url, "t2", f"e{i}") for i in range(2)]
    keepers = [
        LeaseKeeper(bucket, names, accounts.start, accounts.stop)
        for bucket, accounts in zip(buckets, engines, strict=True)
    ]
    tasks = [asyncio.create_task(keeper.run()) for keeper in keepers]
    try:
        deadline = time.monotonic() + 10
        while sorted(len(e.copying) for e in engines) != [2, 3]:  # ceil(5 / 2) at most each
            assert time.monotonic() < deadline, [e.copying for e in engines]
            await asyncio.sleep(0.1)
        assert engines[0].copying.isdisjoint(engines[1].copying)
        held = [set(e.copying) for e in engines]
        nats_server.kill()  # both engines cut off: neither may go on copying for long
        cut = time.monotonic()
        deadline = cut + FENCE_S + 3
        while any(e.copying for e in engines):
            assert time.monotonic() < deadline, [e.copying for e in engines]
            await asyncio.sleep(0.05)
        for accounts, had in zip(engines, held, strict=True):
            assert set(accounts.stopped) == had
            # not before the fence (a blip is ridden out), and before the leases can expire at
            # the server: TTL_S after the last renewal, sent at most RENEW_S before the cut
            # (and its look's calls)
            for at in accounts.stopped.values():
                assert FENCE_S - RENEW_S - 0.3 <= at - cut < TTL_S - RENEW_S, at - cut
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bucket in buckets:
            await asyncio.wait_for(bucket.close(), 5)
