"""The provider disappears for 10 minutes (on an injected clock): followers neither close nor
add anything on their own — with the default policy (hold the last target) and with
``max_signal_age_s`` (reduce-only once stale, which holds what is open) — and resync when the
provider returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.conftest import PASSWORD, HubFactory, add_user
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients import HubClient
from tradewire.clients.backoff import Backoff
from tradewire.clients.follower import Follower
from tradewire.clients.provider import Provider
from tradewire.clock import ManualClock
from tradewire.copy import CopyRules
from tradewire.model import OrderRequest


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 -- polls brokers, nothing to wait on
            await asyncio.sleep(0.05)


def book(positions: list) -> list[tuple[str, str, float]]:
    return sorted((p.symbol, p.side, p.volume) for p in positions)


async def test_followers_hold_for_ten_minutes_then_resync(
    start_hub: HubFactory, data_dir: Path, tmp_path: Path
) -> None:
    clock = ManualClock()
    for name in ("hold", "aged"):
        add_user(data_dir, name, "follower", ["alpha"])
    hub = await start_hub()
    host, port = hub.addresses[0]
    provider_broker = await PaperBroker.open(tmp_path / "p.db", PaperSettings(mode="hedging"))
    followers: dict[str, tuple[PaperBroker, HubClient, Follower, asyncio.Task[None]]] = {}
    for name, rules in (("hold", CopyRules()), ("aged", CopyRules(max_signal_age_s=120))):
        broker = await PaperBroker.open(tmp_path / f"{name}.db", PaperSettings(mode="hedging"))
        follower = Follower(broker, "alpha", rules, clock=clock, resync_s=0.05)
        client = HubClient(
            host, port, name, PASSWORD, on_state=follower.on_state, backoff=Backoff(0.05, 0.3)
        )
        await client.start()
        await client.subscribe("alpha")
        followers[name] = (broker, client, follower, asyncio.create_task(follower.run()))

    async def provide() -> tuple[HubClient, asyncio.Task[None]]:
        client = HubClient(host, port, "alice", PASSWORD)
        await client.start()
        provider = Provider(provider_broker, client, "alpha", refresh_s=1.0, clock=clock)
        return client, asyncio.create_task(provider.run())

    async def in_sync() -> bool:
        want = book(await provider_broker.positions())
        for broker, *_ in followers.values():
            if book(await broker.positions()) != want:
                return False
        return True

    try:
        client, task = await provide()
        await provider_broker.market_order(OrderRequest("EURUSD", "buy", 0.3))
        await provider_broker.market_order(OrderRequest("XAUUSD", "sell", 0.2))
        await wait_for(in_sync)
        orders_before = {n: len(await f[0].order_log()) for n, f in followers.items()}
        held = {n: book(await f[0].positions()) for n, f in followers.items()}

        task.cancel()  # the provider vanishes without a word
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        for _ in range(60):  # ten minutes in 10 s steps; the followers run rounds meanwhile
            clock.advance(10)
            await asyncio.sleep(0.02)
        for name, (broker, _, follower, _) in followers.items():
            assert book(await broker.positions()) == held[name], name
            assert len(await broker.order_log()) == orders_before[name], name
            assert not follower.pending_orders
        aged_plan = followers["aged"][2].last_plan
        assert aged_plan is not None and any("only reducing" in s.reason for s in aged_plan.skips)

        await provider_broker.market_order(OrderRequest("GBPUSD", "sell", 0.4))
        client, task = await provide()  # it comes back with a changed account
        await wait_for(in_sync)
        assert ("GBPUSD", "sell", 0.4) in book(await followers["aged"][0].positions())
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        for broker, hub_client, _, follower_task in followers.values():
            follower_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower_task
            await hub_client.close()
            await broker.close()
        await provider_broker.close()
