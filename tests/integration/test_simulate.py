"""The what-if simulator against a live copy (docs/simulate.md): a provider trades on a paper
account and a follower copies it live through a real hub; then the hub replays the channel's
kept history onto a simulated account with the follower's deposit and rules. The replay must
end where the live follower ended: the same deals, in the same order, at the same prices, and
the same balance. Both paper accounts are pinned to the same quotes at every step, as two
accounts at one broker see one market."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, logged_in, state_frame
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.backoff import Backoff
from tradewire.clients.follower import Follower
from tradewire.clients.hub_client import HubClient
from tradewire.clients.provider import Provider
from tradewire.config import HistorySettings, TickSettings
from tradewire.copy.rules import parse_rules
from tradewire.exceptions import HubRefused
from tradewire.model import OrderRequest
from tradewire.protocol.frames.history import SimulateRequest

RULES: dict[str, Any] = {"sizing": "multiplier", "multiplier": 0.5, "max_volume": 0.4}


async def in_sync(follower: Follower, provider: Provider) -> None:
    deadline = time.monotonic() + 10
    while True:
        state = follower.state
        caught_up = state is not None and state.seq == provider.last_seq
        if caught_up and not follower.in_flight and not await follower.drift():
            return
        assert time.monotonic() < deadline, "the live follower did not copy the change"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("ticks", [False, True], ids=["deal-prices", "stored-ticks"])
async def test_a_replay_ends_where_the_live_follower_ended(
    start_hub: Any, tmp_path: Path, ticks: bool
) -> None:
    """Without ticks the replay fills at the provider's deal prices; with the market's ticks
    stored at the hub (sent as a terminal would), at their bid and ask: the spread too."""
    hub = await start_hub()
    host, port = hub.addresses[0]
    source = await PaperBroker.open(tmp_path / "p.db", PaperSettings(mode="hedging"))
    copy = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging", balance=5_000))
    provider_client = HubClient(host, port, "alice", PASSWORD)
    await provider_client.start()
    provider = Provider(source, provider_client, "alpha", refresh_s=60)
    follower = Follower(copy, "alpha", parse_rules(RULES), resync_s=0.2, retry_initial_s=0.02)
    bob = HubClient(
        host, port, "bob", PASSWORD, on_state=follower.on_state, backoff=Backoff(0.05, 0.3)
    )
    await bob.start()
    await bob.subscribe("alpha")
    live = asyncio.create_task(follower.run())

    batches = iter(range(1, 100))

    async def market(eur: tuple[float, float], gbp: tuple[float, float]) -> None:
        for broker in (source, copy):
            await broker.pin("EURUSD", *eur)
            await broker.pin("GBPUSD", *gbp)
        if ticks:
            now = int(time.time() * 1000)
            rows: list[list[Any]] = [["EURUSD", now, *eur], ["GBPUSD", now, *gbp]]
            await provider_client.send_ticks(rows, f"market-{next(batches)}")

    async def step(order: OrderRequest | None = None, **modify: Any) -> None:
        if order is not None:
            await source.market_order(order)
        if modify:
            await source.modify_position(**modify)
        await provider.publish_now()
        await in_sync(follower, provider)

    try:
        await market((1.1000, 1.1002), (1.2500, 1.2503))
        await step()  # the channel's first moment: nothing held
        await step(OrderRequest("EURUSD", "buy", 1.0, sl=1.0900, tp=1.1300))
        await market((1.1010, 1.1012), (1.2490, 1.2493))
        await step(OrderRequest("GBPUSD", "sell", 0.6))
        (eur,) = [p for p in await source.positions() if p.symbol == "EURUSD"]
        await market((1.1030, 1.1032), (1.2470, 1.2473))
        await step(OrderRequest("EURUSD", "sell", 0.4, eur.id))  # a partial close
        await step(position_id=eur.id, sl=1.0950, tp=1.1300)  # the stop moved
        (gbp,) = [p for p in await source.positions() if p.symbol == "GBPUSD"]
        await market((1.1040, 1.1042), (1.2520, 1.2523))
        await step(OrderRequest("GBPUSD", "buy", 0.6, gbp.id))  # closed at a loss
        await market((1.1060, 1.1062), (1.2520, 1.2523))
        await step(OrderRequest("EURUSD", "sell", 0.6, eur.id))
        assert await copy.positions() == []
        await hub.parts.history_store.flush()

        request = SimulateRequest(ch="alpha", deposit=5_000, rules=RULES, id=1)
        result = await bob.channel_simulate(request)
        lived = await copy.deals_since(0)
        replayed = [(f.symbol, f.side, f.volume, f.entry, f.price) for f in result.fills]
        assert replayed == [(d.symbol, d.side, d.volume, d.entry, d.price) for d in lived]
        # EURUSD: 0.5 capped to 0.4; the partial close takes the same share (0.4 of 1.0)
        # of the copy, 0.16; the rest, 0.24. GBPUSD: 0.3 in and out.
        volumes = [(d.symbol, d.volume) for d in lived]
        assert volumes == [
            ("EURUSD", 0.4),
            ("GBPUSD", 0.3),
            ("EURUSD", 0.16),
            ("GBPUSD", 0.3),
            ("EURUSD", 0.24),
        ]
        assert result.balance == pytest.approx((await copy.account()).balance, abs=0.01)
        assert result.stats.trades == 3 and result.stats.trades_from == "deals"
        assert sum(result.price_time_pct.values()) == pytest.approx(100, abs=0.5)
        if ticks:
            assert result.prices["ticks"] > 0 and result.prices["deals"] == 0
        else:
            assert result.prices["deals"] > 0 and result.prices["ticks"] == 0
        assert result.skips_total == 0
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)
        for client in (bob, provider_client):
            await client.close()
        await source.close()
        await copy.close()


async def test_bad_rules_and_an_unknown_channel_are_one_line_refusals(start_hub: Any) -> None:
    hub = await start_hub()
    host, port = hub.addresses[0]
    bob = HubClient(host, port, "bob", PASSWORD)
    await bob.start()
    try:
        bad = SimulateRequest(ch="alpha", deposit=1_000, rules={"sizing": "lots"}, id=1)
        with pytest.raises(HubRefused) as refused:
            await bob.channel_simulate(bad)
        assert refused.value.code == "invalid_rules" and "sizing" in str(refused.value)
        assert "\n" not in str(refused.value)
        missing = SimulateRequest(ch="alpha", deposit=1_000, id=2)
        with pytest.raises(HubRefused) as refused:
            await bob.channel_simulate(missing)
        assert refused.value.code == "not_found"
        other = SimulateRequest(ch="beta", deposit=1_000, id=3)
        with pytest.raises(HubRefused) as refused:
            await bob.channel_simulate(other)
        assert refused.value.code == "forbidden"
    finally:
        await bob.close()


async def _history(hub: Any, changes: int) -> None:
    alice = await logged_in(hub, "alice")
    for n in range(1, changes + 1):  # each volume differs: each state is a change
        alice.send(state_frame("alpha", n, id=n))
        assert (await alice.recv())["t"] == "ack"
    await hub.parts.history_store.flush()


async def test_a_replay_too_long_for_the_hub_is_refused_saying_what_to_do(
    start_hub: Any,
) -> None:
    hub = await start_hub(history=HistorySettings(simulate_max_moments=10))
    await _history(hub, 12)
    bob = await logged_in(hub, "bob")
    bob.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 1})
    refused = await bob.recv()
    assert refused["code"] == "too_large" and "12 changes" in refused["msg"]
    assert "shorter period" in refused["msg"]
    late = {"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "since_ms": 4 * 10**12}
    bob.send({**late, "id": 2})  # a later period: what was held when it starts, replayed
    assert (await bob.recv())["moments"] == 1


async def test_a_replay_past_its_time_is_killed(start_hub: Any) -> None:
    hub = await start_hub(history=HistorySettings(simulate_timeout_s=0.01))
    await _history(hub, 2)
    bob = await logged_in(hub, "bob")
    bob.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 1})
    refused = await bob.recv()
    assert refused["code"] == "too_large" and "simulate_timeout_s" in refused["msg"]


async def test_two_replays_asked_in_one_read_are_not_both_started(start_hub: Any) -> None:
    hub = await start_hub()
    await _history(hub, 3)
    bob = await logged_in(hub, "bob")
    asked = b"".join(
        json.dumps({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": n}).encode()
        + b"\n"
        for n in (1, 2)
    )
    bob.send(asked)  # one write: the hub reads both before either replay has begun
    answers = {(m := await bob.recv(timeout=60))["re"]: m for _ in range(2)}
    assert answers[1]["t"] == "channel_simulation"
    assert answers[2]["code"] == "rate_limited"


async def test_a_replay_whose_asker_left_gives_its_slot_back(start_hub: Any) -> None:
    hub = await start_hub()
    await _history(hub, 3)
    gone = await logged_in(hub, "bob")
    gone.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 1})
    await asyncio.sleep(0.05)
    gone.writer.close()  # left while its replay runs: the replay is stopped
    bob = await logged_in(hub, "bob")
    deadline = time.monotonic() + 30
    while True:
        bob.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 2})
        answer = await bob.recv(timeout=60)
        if answer["t"] == "channel_simulation":
            break
        assert answer["code"] == "rate_limited" and time.monotonic() < deadline
        await asyncio.sleep(0.5)


async def test_one_replay_runs_at_a_time(start_hub: Any) -> None:
    hub = await start_hub()
    await _history(hub, 3)
    first, second = await logged_in(hub, "bob"), await logged_in(hub, "bob")
    first.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 1})
    await asyncio.sleep(0.05)  # the first has started its process
    second.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 2})
    busy = await second.recv()
    assert busy["code"] == "rate_limited" and busy["retry_after_s"] >= 1
    done = await first.recv()
    assert done["t"] == "channel_simulation" and done["moments"] == 3


async def test_a_hub_on_postgres_keeps_the_history_there_and_replays_from_it(
    start_hub: Any, postgres: str, data_dir: Path
) -> None:
    hub = await start_hub(ticks=TickSettings(postgres=postgres))
    await _history(hub, 3)
    bob = await logged_in(hub, "bob")
    bob.send({"t": "channel_stats", "ch": "alpha", "id": 1})
    assert (await bob.recv())["points"] == 3
    bob.send({"t": "channel_simulate", "ch": "alpha", "deposit": 1000, "id": 2})
    assert (await bob.recv())["moments"] == 3  # the replay's process read PostgreSQL
    assert not (data_dir / "history.db").exists()
