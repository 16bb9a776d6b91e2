"""Provider -> hub -> followers on paper accounts, through random changes, restarts and
rejections: everyone converges, and the paper brokers' order logs show no duplicate order."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, HubFactory, add_user
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients import HubClient
from tradewire.clients.backoff import Backoff
from tradewire.clients.follower import Follower
from tradewire.clients.provider import Provider
from tradewire.copy import CopyRules, plan, reconcile
from tradewire.copy.plan import managed, parse_link
from tradewire.demo.trader import RandomTrader
from tradewire.hub.server import Hub
from tradewire.model import OrderRequest

FOLLOWERS = {
    "f_net2": (PaperSettings(mode="netting", balance=20_000), CopyRules(multiplier=2)),
    "f_hedge_m": (
        PaperSettings(mode="hedging", suffix=".m", balance=10_000),
        CopyRules(suffix=".m"),
    ),
    "f_rev": (
        PaperSettings(mode="netting", balance=5_000),
        CopyRules(sizing="fixed", fixed_volume=0.1, reverse=True),
    ),
}


@dataclass
class Copier:
    name: str
    broker: PaperBroker
    client: HubClient
    follower: Follower
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.client.close()
        await self.broker.close()


@dataclass
class Rig:
    hub: Hub
    tmp: Path
    provider_broker: PaperBroker
    provider: Provider
    provider_client: HubClient
    provider_task: asyncio.Task[None]
    copiers: dict[str, Copier] = field(default_factory=dict)
    follower_address: tuple[str, int] | None = None  # e.g. a fault proxy in front of the hub

    async def start_follower(self, name: str, **overrides: object) -> Copier:
        settings, rules = FOLLOWERS[name]
        broker = await PaperBroker.open(self.tmp / f"{name}.db", settings)
        if overrides:
            broker.configure(**overrides)
        follower = Follower(
            broker, "alpha", rules, resync_s=0.5, retry_initial_s=0.02, retry_max_s=0.2
        )
        host, port = self.follower_address or self.hub.addresses[0]
        client = HubClient(
            host, port, name, PASSWORD, on_state=follower.on_state, backoff=Backoff(0.05, 0.3)
        )
        await client.start()
        await client.subscribe("alpha")
        copier = Copier(name, broker, client, follower, asyncio.create_task(follower.run()))
        self.copiers[name] = copier
        return copier

    async def converged(self, timeout: float = 15.0) -> None:
        """Wait until every follower has the provider's last state and nothing left to do."""
        # The provider's own loop may be between a trade and its state: publish the account
        # as it is now, so that last_seq is the newest state there will be.
        await self.provider.publish_now()

        async def check() -> bool:
            for copier in self.copiers.values():
                f = copier.follower
                if f.state is None or f.state.seq != self.provider.last_seq or f.in_flight:
                    return False
                view = await f.view()
                target = plan(f.state, view, f.rules, 0).target
                if reconcile(
                    target,
                    managed(view.positions, f.rules),
                    view.account.mode,
                    view.specs,
                    f.rules.magic,
                ):
                    return False
            return True

        deadline = asyncio.get_running_loop().time() + timeout
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "followers did not converge"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def open_rig(
    hub: Hub, data_dir: Path, tmp_path: Path, follower_address: tuple[str, int] | None = None
) -> AsyncIterator[Rig]:
    """A provider trading on a paper account and the FOLLOWERS copying it through ``hub``."""
    for name in FOLLOWERS:
        add_user(data_dir, name, "follower", ["alpha"])
    broker = await PaperBroker.open(tmp_path / "provider.db", PaperSettings(mode="hedging"))
    host, port = hub.addresses[0]
    client = HubClient(host, port, "alice", PASSWORD, backoff=Backoff(0.05, 0.3))
    await client.start()
    provider = Provider(broker, client, "alpha", refresh_s=1.0)
    rig = Rig(
        hub,
        tmp_path,
        broker,
        provider,
        client,
        asyncio.create_task(provider.run()),
        follower_address=follower_address,
    )
    for name in FOLLOWERS:
        await rig.start_follower(name)
    try:
        yield rig
    finally:
        for copier in list(rig.copiers.values()):
            await copier.stop()
        rig.provider_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rig.provider_task
        await client.close()
        await broker.close()


@pytest.fixture
async def rig(start_hub: HubFactory, data_dir: Path, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(await start_hub(), data_dir, tmp_path) as opened:
        yield opened


async def trade(rig: Rig, changes: int, seed: int, pause: float = 0.005) -> RandomTrader:
    trader = RandomTrader(rig.provider_broker, "hedging", seed=seed)
    for _ in range(changes):
        await trader.step()
        await asyncio.sleep(pause)
    return trader


def link_key(comment: str) -> str:
    link = parse_link(comment)
    assert link is not None, comment
    return link.key


async def assert_no_duplicates(rig: Rig) -> None:
    """From the order logs: no link opened twice on the hedging follower, and no netting
    follower filled more orders on a symbol than the provider made changes to it."""
    provider_changes: collections.Counter[str] = collections.Counter(
        r.symbol for r in await rig.provider_broker.order_log() if r.status == "filled"
    )
    for name, copier in rig.copiers.items():
        fills = [r for r in await copier.broker.order_log() if r.status == "filled"]
        if name == "f_hedge_m":
            opens = collections.Counter(
                parse_link(r.comment).key  # type: ignore[union-attr]
                for r in fills
                if r.position_id is None
            )
            assert opens and max(opens.values()) == 1, opens.most_common(3)
        else:
            per_symbol = collections.Counter(r.symbol for r in fills)
            for symbol, count in per_symbol.items():
                assert count <= provider_changes[symbol], (name, symbol, count)


async def test_two_hundred_changes_converge_without_duplicates(rig: Rig) -> None:
    await trade(rig, 200, seed=11)
    await rig.converged()
    await assert_no_duplicates(rig)
    hedge = rig.copiers["f_hedge_m"]
    held = await hedge.broker.positions()
    provider_positions = await rig.provider_broker.positions()
    assert sorted((link_key(p.comment), p.symbol, p.side, p.volume) for p in held) == sorted(
        (f"p{p.id}", f"{p.symbol}.m", p.side, p.volume) for p in provider_positions
    )
    fills = [e for e in hedge.follower.journal.recent if e["event"] == "fill"]
    assert fills and all(e["latency_ms"] >= 0 for e in fills)


async def test_a_follower_killed_mid_run_restarts_and_converges(rig: Rig) -> None:
    await trade(rig, 60, seed=12)
    await rig.copiers["f_hedge_m"].stop()  # mid-run: orders may be in flight
    del rig.copiers["f_hedge_m"]
    await trade(rig, 60, seed=13)
    await rig.start_follower("f_hedge_m")
    await trade(rig, 40, seed=14)
    await rig.converged()
    await assert_no_duplicates(rig)


async def test_a_restarted_hub_keeps_followers_in_sync(rig: Rig, start_hub: HubFactory) -> None:
    await trade(rig, 50, seed=21)
    await rig.converged()  # orders for states received before the stop may still be running
    before = {n: await c.broker.positions() for n, c in rig.copiers.items()}
    address = rig.hub.addresses[0]
    await rig.hub.stop()
    await asyncio.sleep(0.3)
    for name, copier in rig.copiers.items():  # nobody closed or added anything on their own
        assert await copier.broker.positions() == before[name]
    rig.hub = await start_hub(port=address[1])
    await trade(rig, 50, seed=22)
    await rig.converged()
    await assert_no_duplicates(rig)
    assert all(c.client.reconnects >= 1 for c in rig.copiers.values())


async def test_rejections_and_requotes_are_retried_to_convergence(rig: Rig) -> None:
    for copier in rig.copiers.values():
        copier.broker.configure(requote_probability=0.4, latency_ms=2)
    await trade(rig, 80, seed=31)
    rig.copiers["f_net2"].broker.configure(market_closed=True)
    await trade(rig, 10, seed=32)
    await asyncio.sleep(0.3)
    rig.copiers["f_net2"].broker.configure(market_closed=False)
    await rig.converged(timeout=30)
    await assert_no_duplicates(rig)
    rejects = collections.Counter(
        e.get("reason")
        for c in rig.copiers.values()
        for e in c.follower.journal.recent
        if e["event"] == "reject"
    )
    assert rejects["requote"] > 0 and rejects["market_closed"] > 0


async def test_a_change_made_as_the_provider_starts_is_published_at_once(
    start_hub: HubFactory, tmp_path: Path
) -> None:
    """The provider listens for changes before it reads the account: a trade made while it
    reads is published at once, not at the next keepalive."""
    hub = await start_hub()
    host, port = hub.addresses[0]
    broker = await PaperBroker.open(tmp_path / "p.db", PaperSettings(mode="hedging"))
    client = HubClient(host, port, "alice", PASSWORD)
    await client.start()
    provider = Provider(broker, client, "alpha", refresh_s=60.0)
    task = asyncio.create_task(provider.run())
    try:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))  # as it starts
        deadline = time.monotonic() + 2.0
        while provider.published < 2:
            assert time.monotonic() < deadline, "the change waited for the keepalive"
            await asyncio.sleep(0.01)
        assert provider.last_seq == 2  # the state with the position: stored and acked
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        await broker.close()
