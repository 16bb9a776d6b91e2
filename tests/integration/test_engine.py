"""The copy engine and the per-hop stamps, against a real hub on 127.0.0.1: a provider trading a
paper account, one engine session copying two channels onto several accounts."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, HubFactory, add_user, grant
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients import HubClient
from tradewire.clients import hub_client as hub_client_module
from tradewire.clients.engine import CopyEngine
from tradewire.clients.follower import Follower
from tradewire.clients.hops import HOPS
from tradewire.clients.journal import Journal
from tradewire.clients.provider import Provider
from tradewire.copy import CopyRules
from tradewire.model import OrderRequest

ACCOUNTS = {  # name: (channel, paper settings, rules)
    "h1": ("alpha", PaperSettings(mode="hedging"), CopyRules()),
    "h2": ("alpha", PaperSettings(mode="hedging"), CopyRules(multiplier=2)),
    "n1": ("alpha", PaperSettings(mode="netting"), CopyRules(multiplier=3)),
    "b1": ("beta", PaperSettings(mode="hedging"), CopyRules()),
}


async def until(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def start_engine(
    tmp_path: Path, port: int
) -> tuple[CopyEngine, HubClient, dict[str, PaperBroker]]:
    brokers = {
        name: await PaperBroker.open(tmp_path / f"{name}.db", settings)
        for name, (_, settings, _) in ACCOUNTS.items()
    }
    engine = CopyEngine(
        {
            name: Follower(
                brokers[name], channel, rules, journal=Journal(tmp_path / f"{name}.jsonl")
            )
            for name, (channel, _, rules) in ACCOUNTS.items()
        }
    )
    client = HubClient("127.0.0.1", port, "engine", PASSWORD, on_state=engine.on_state)
    engine.hub_clock_offset = lambda: client.clock_offset_us
    await client.start()
    for channel in engine.channels:
        await client.subscribe(channel)
    return engine, client, brokers


@pytest.mark.parametrize("same_host", [True, False], ids=["same-host", "offset-measured"])
async def test_one_session_copies_two_channels_onto_every_account_with_its_rules(
    start_hub: HubFactory,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    same_host: bool,
) -> None:
    if not same_host:  # as if the hub ran elsewhere: the offset is measured with pings
        monkeypatch.setattr(hub_client_module, "host_id", lambda: "another host")
    add_user(data_dir, "engine", "follower", ["alpha", "beta"])
    grant(data_dir, "alice", "beta")
    hub = await start_hub()
    port = hub.addresses[0][1]
    prov = await PaperBroker.open(tmp_path / "prov.db", PaperSettings(mode="hedging"))
    prov_client = HubClient("127.0.0.1", port, "alice", PASSWORD)
    await prov_client.start()
    provider = Provider(prov, prov_client, "alpha", refresh_s=30)
    provided = asyncio.create_task(provider.run())
    engine, client, brokers = await start_engine(tmp_path, port)
    running = asyncio.create_task(engine.run())
    if not same_host:
        await until(lambda: _known(client))
        assert abs(client.clock_offset_us or 0) < 5_000  # one clock in truth: offset ~ 0
    await prov.market_order(OrderRequest("EURUSD", "buy", 0.3))
    await prov.market_order(OrderRequest("XAUUSD", "sell", 0.1))

    async def copied() -> bool:
        return [len(await brokers[n].positions()) for n in ("h1", "h2", "n1")] == [2, 2, 2]

    await until(copied)
    volumes = {
        name: sorted((p.symbol, p.side, p.volume) for p in await brokers[name].positions())
        for name in ("h1", "h2", "n1")
    }
    assert volumes == {
        "h1": [("EURUSD", "buy", 0.3), ("XAUUSD", "sell", 0.1)],
        "h2": [("EURUSD", "buy", 0.6), ("XAUUSD", "sell", 0.2)],
        "n1": [("EURUSD", "buy", 0.9), ("XAUUSD", "sell", 0.3)],
    }
    assert await brokers["b1"].positions() == []  # beta has no state: nothing of alpha's
    # Each state was made ready once for every alpha account, not once per account.
    states = {id(engine.followers[name].state) for name in ("h1", "h2", "n1")}
    assert len(states) == 1 and engine.followers["b1"].state is None
    for name in ("h1", "h2", "n1"):
        fills = [e for e in engine.followers[name].journal.recent if e["event"] == "fill"]
        assert len(fills) == 2
        for fill in fills:
            hops = fill["hops_ms"]
            assert set(hops) == {*HOPS, "total"}, hops
            assert all(value >= 0 for value in hops.values()), hops
            parts = sum(hops[h] for h in HOPS)
            assert abs(parts - hops["total"]) < 0.01, hops  # the hops make up the whole
            # latency_ms is in whole ms, to the moment the paper broker filled (within the fill
            # hop); a measured offset errs by up to half a ping's round trip
            slack = hops["fill"] + (2.0 if same_host else 10.0)
            assert hops["total"] <= fill["latency_ms"] + slack
    status = engine.status()
    assert [row["fills"] for row in status["accounts"]] == [2, 2, 2, 0]
    # one report per channel: the hub checks each against what the user may follow
    assert [(r.ch, r.fills) for r in engine.reports()] == [("alpha", 6), ("beta", 0)]
    for task in (running, provided):
        task.cancel()
    await asyncio.gather(running, provided, return_exceptions=True)
    # Every order was sent once: the accounts' own order logs.
    for name in ("h1", "h2", "n1"):
        sent = collections.Counter(o.symbol for o in await brokers[name].order_log())
        assert sent == {"EURUSD": 1, "XAUUSD": 1}
    for closing in (client, prov_client):
        await closing.close()
    for broker in (*brokers.values(), prov):
        await broker.close()


async def _known(client: HubClient) -> bool:
    return client.clock_offset_us is not None


async def test_an_account_that_fails_stops_alone(
    start_hub: HubFactory, data_dir: Path, tmp_path: Path
) -> None:
    add_user(data_dir, "engine", "follower", ["alpha", "beta"])
    hub = await start_hub()
    engine, client, brokers = await start_engine(tmp_path, hub.addresses[0][1])

    async def broken() -> None:
        raise RuntimeError("journal disk gone")

    engine.followers["h2"].run = broken  # type: ignore[method-assign]
    running = asyncio.create_task(engine.run())
    await asyncio.sleep(0.2)
    assert engine.failed == {"h2": "RuntimeError: journal disk gone"}
    assert not running.done()  # the others go on
    assert engine.status()["accounts"][1]["stopped"] == "RuntimeError: journal disk gone"
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await client.close()
    for broker in brokers.values():
        await broker.close()
