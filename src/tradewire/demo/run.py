"""The demo: hub, provider, three followers and a trader, on one machine, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.brokers.paper.feed import SeededFeed
from tradewire.brokers.symbols import resolve
from tradewire.clients import HubClient
from tradewire.clients.follower import Follower
from tradewire.clients.provider import Provider
from tradewire.clients.relay import RelayClient
from tradewire.clients.sentiment import SentimentClient
from tradewire.clients.terminal.broker import TerminalBroker, TerminalOptions
from tradewire.clients.terminal.sim import TerminalSim
from tradewire.clients.tick_sender import TickSender
from tradewire.clients.topics import TopicClient
from tradewire.config import (
    Config,
    HubSettings,
    IndicatorSettings,
    SentimentSettings,
    TopicSettings,
)
from tradewire.copy import CopyRules
from tradewire.demo.trader import RandomTrader
from tradewire.hub.server import Hub
from tradewire.protocol.ticks import TickRow
from tradewire.store.db import StateDB
from tradewire.store.passwords import Passwords
from tradewire.store.ticks import SqliteTickStore

CHANNEL = "demo"
# The hub also shows the crowd (sentiment: every account's positions) and computes indicators
# from the ticks the provider streams (topics), beside the copying.
DEMO_CONFIG = Config(
    hub=HubSettings(host="127.0.0.1", port=0),
    sentiment=SentimentSettings(interval_s=0.5, from_states=True, ttl_s=10),
    topics=TopicSettings(
        indicators=[
            IndicatorSettings(symbol="EURUSD", timeframe="S5", kind="sma", period=3),
            IndicatorSettings(symbol="EURUSD", timeframe="S5", kind="rsi", period=3),
        ]
    ),
)
PASSWORD = "demo-password-not-secret"


@dataclass(frozen=True)
class FollowerSpec:
    name: str
    description: str
    settings: PaperSettings
    rules: CopyRules


FOLLOWERS = (
    FollowerSpec(
        "netting-x2",
        "netting account, multiplier 2",
        PaperSettings(mode="netting", balance=20_000),
        CopyRules(multiplier=2),
    ),
    FollowerSpec(
        "hedging-balance-m",
        "hedging, balance-proportional, .m symbols",
        PaperSettings(mode="hedging", balance=5_000, suffix=".m"),
        CopyRules(sizing="balance", suffix=".m"),
    ),
    FollowerSpec(
        "reverse-fixed",
        "netting, reverse, fixed 0.10 lots",
        PaperSettings(mode="netting", balance=10_000),
        CopyRules(sizing="fixed", fixed_volume=0.1, reverse=True),
    ),
)


@dataclass
class SimulatedTerminal:
    """A bridge terminal (``tradewire terminal sim``) holding a follower's paper account."""

    name: str
    client: HubClient
    relay: RelayClient
    sim: TerminalSim


@dataclass
class RunningFollower:
    spec: FollowerSpec
    broker: PaperBroker  # the account itself (behind the terminal, with --terminals)
    client: HubClient
    follower: Follower
    task: asyncio.Task[None]
    in_sync: bool = False
    terminal: SimulatedTerminal | None = None


@dataclass
class Demo:
    hub: Hub
    provider_broker: PaperBroker
    provider: Provider
    provider_client: HubClient
    trader: RandomTrader
    followers: list[RunningFollower]
    started: float = field(default_factory=time.monotonic)
    last_action: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    tick_sender: TickSender | None = None
    data_dir: Path = Path()
    crowd: SentimentClient | None = None  # what the provider's session sees of the crowd
    topics: TopicClient | None = None


def terminal_name(spec: FollowerSpec) -> str:
    return f"term-{spec.name}"


async def start(data_dir: Path, seed: int, terminals: bool = False) -> Demo:
    """Start everything; the trader is not started yet. ``terminals``: each follower trades
    through a simulated bridge terminal (provider -> hub -> follower -> terminal -> fill)."""

    def create_users() -> None:
        db = StateDB(data_dir)
        passwords = Passwords()
        existing = {u.name for u in db.list_users()}
        now = int(time.time() * 1000)
        users = [("provider", "provider", [CHANNEL, "topic:ind.*"])]
        for f in FOLLOWERS:
            users.append((f.name, "follower", [CHANNEL, f"relay:{terminal_name(f)}"]))
            users.append((terminal_name(f), "follower", []))
        for name, role, grants in users:
            if name not in existing:
                db.add_user(name, passwords.hash(PASSWORD), role, grants, now)
        db.close()

    await asyncio.to_thread(create_users)
    hub = Hub(DEMO_CONFIG, data_dir)
    host, port = (await hub.start())[0]
    provider_broker = await PaperBroker.open(
        data_dir / "provider.db", PaperSettings(mode="hedging", seed=seed)
    )
    provider_client = HubClient(host, port, "provider", PASSWORD)
    await provider_client.start()
    provider = Provider(provider_broker, provider_client, CHANNEL, refresh_s=5)
    demo = Demo(
        hub,
        provider_broker,
        provider,
        provider_client,
        RandomTrader(provider_broker, "hedging", seed=seed),
        [],
    )
    demo.data_dir = data_dir
    demo.tasks.append(asyncio.create_task(provider.run()))
    demo.crowd, demo.topics = SentimentClient(provider_client), TopicClient(provider_client)
    await demo.crowd.subscribe(["*"])
    await demo.topics.subscribe(["ind.*"])
    demo.tick_sender = TickSender(
        "native", host, port, user="provider", password=PASSWORD, client_name="demo-feed"
    )
    await demo.tick_sender.start()
    demo.tasks.append(asyncio.create_task(stream_ticks(demo, seed)))
    for spec in FOLLOWERS:
        demo.followers.append(await _start_follower(spec, host, port, data_dir, seed, terminals))
    demo.tasks.append(asyncio.create_task(contribute_sentiment(demo)))
    return demo


async def _start_follower(
    spec: FollowerSpec, host: str, port: int, data_dir: Path, seed: int, terminals: bool
) -> RunningFollower:
    settings = msgspec.structs.replace(spec.settings, seed=seed)
    broker = await PaperBroker.open(data_dir / f"{spec.name}.db", settings)
    terminal = await _start_terminal(host, port, terminal_name(spec), broker) if terminals else None
    # The follower's hub session also carries its requests to the terminal.
    client = HubClient(host, port, spec.name, PASSWORD, on_state=lambda s: follower.on_state(s))
    traded: PaperBroker | TerminalBroker = broker
    if terminal is not None:
        options = TerminalOptions(hub=f"{host}:{port}", user=spec.name)
        traded = TerminalBroker(client, terminal.name, options, owns_client=False)
    follower = Follower(traded, CHANNEL, spec.rules, resync_s=1.0, name=spec.name)
    follower.hub_clock_offset = lambda: client.clock_offset_us
    await client.start()
    await client.subscribe(CHANNEL)
    task = asyncio.create_task(follower.run())
    return RunningFollower(spec, broker, client, follower, task, False, terminal)


async def _start_terminal(
    host: str, port: int, name: str, broker: PaperBroker
) -> SimulatedTerminal:
    client = HubClient(host, port, name, PASSWORD)
    await client.start()
    terminal = SimulatedTerminal(name, client, RelayClient(client), TerminalSim(broker))
    terminal.sim.start()
    await terminal.relay.listen(name, terminal.sim.answer)
    return terminal


async def stream_ticks(demo: Demo, seed: int, every_s: float = 0.1) -> None:
    """The provider's price feed, sampled every ``every_s``, as native ticks to the hub."""
    feed = SeededFeed(seed)
    assert demo.tick_sender is not None
    last: dict[str, tuple[float, float]] = {}
    while True:
        stamp = int(time.time() * 1000)
        rows: list[TickRow] = []
        for symbol in demo.trader.symbols:
            spec = resolve(symbol)
            quote = feed.quote(spec, symbol, stamp) if spec else None
            if quote is not None and last.get(symbol) != (quote.bid, quote.ask):
                last[symbol] = (quote.bid, quote.ask)  # a tick is a change of price
                rows.append((symbol, stamp, quote.bid, quote.ask, None, None))
        if rows:
            await demo.tick_sender.send(rows)
        await asyncio.sleep(every_s)


async def contribute_sentiment(demo: Demo, every_s: float = 1.0) -> None:
    """Each follower tells the crowd what it holds (the provider counts through its states)."""
    crowds = [(r.broker, SentimentClient(r.client)) for r in demo.followers]
    while True:
        for broker, crowd in crowds:
            sides: dict[str, list[float]] = {}
            for p in await broker.positions():
                side = sides.setdefault(p.symbol, [0.0, 0.0, 0.0, 0.0])
                at = 0 if p.side == "buy" else 2
                side[at] += p.volume
                side[at + 1] += p.volume * p.price
            for symbol, (lv, lw, sv, sw) in sides.items():
                with contextlib.suppress(Exception):  # the demo goes on without one figure
                    await crowd.contribute(
                        symbol.removesuffix(".m"), lv, sv, lw / lv if lv else 0.0,
                        sw / sv if sv else 0.0, ttl_s=3,
                    )  # fmt: skip
        await asyncio.sleep(every_s)


def stored_ticks(data_dir: Path) -> list[tuple[str, int, int, int]]:
    """(symbol, count, first, last) of the ticks the demo's hub stored."""
    store = SqliteTickStore(data_dir, readonly=True)
    try:
        return store.symbol_stats()
    finally:
        store.close()


async def trade(demo: Demo, until: float, seed: int, on_tick: Callable[[], None]) -> None:
    """About one change a second until monotonic time ``until``."""
    rng = random.Random(seed)
    next_change = time.monotonic() + 0.5
    while time.monotonic() < until:
        if time.monotonic() >= next_change:
            demo.last_action = await demo.trader.step()
            next_change = time.monotonic() + rng.uniform(0.5, 1.5)
        on_tick()
        await asyncio.sleep(0.1)


async def settle(demo: Demo, within_s: float = 10.0) -> None:
    """Wait until every follower holds the target of the provider's last state."""
    deadline = time.monotonic() + within_s
    while True:
        await demo.provider.publish_now()
        seq = demo.provider.last_seq
        await asyncio.sleep(0.3)
        for running in demo.followers:
            f = running.follower
            running.in_sync = (
                f.state is not None
                and f.state.seq == seq
                and not f.in_flight
                and not await f.drift()
            )
        if all(r.in_sync for r in demo.followers) or time.monotonic() > deadline:
            return


async def stop(demo: Demo) -> None:
    for task in demo.tasks + [r.task for r in demo.followers]:
        task.cancel()
    for task in demo.tasks + [r.task for r in demo.followers]:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if demo.tick_sender is not None:
        await demo.tick_sender.close()
    for running in demo.followers:
        await running.client.close()
        if running.terminal is not None:
            await running.terminal.relay.close()
            await running.terminal.sim.close()
            await running.terminal.client.close()
        await running.broker.close()
    await demo.provider_client.close()
    await demo.provider_broker.close()
    await demo.hub.stop()
