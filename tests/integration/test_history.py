"""A channel's history on a real hub (hub/services/history/): the moments a provider's states
make, on the hub's clock (a provider's own times cannot backdate its record), kept across a
restart, read back as statistics by the channel's follower; equity sampled no more often than
history.sample_s; the figures refused to whoever may not read the channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, add_user, logged_in, make_config, state_frame
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.hub_client import HubClient
from tradewire.clients.provider import Provider
from tradewire.clock import ManualClock
from tradewire.config import HistorySettings
from tradewire.exceptions import HubRefused
from tradewire.hub.server import Hub
from tradewire.model import Deal, OrderRequest

T0 = 1_796_000_000_000
OLD = 946_684_800_000  # 2000-01-01: what a provider backdating its record would send


def state(n: int, ts: int, balance: float, equity: float, held: bool) -> dict[str, Any]:
    frame = state_frame("alpha", 1, id=n, ts=ts)
    frame["account"] = {**frame["account"], "balance": balance, "equity": equity}
    if not held:
        frame["positions"] = []
    return frame


async def test_a_followers_figures_come_from_the_providers_states(data_dir: Path) -> None:
    add_user(data_dir, "mallory", "follower", ["beta"])
    config = make_config(history=HistorySettings(sample_s=60))
    clock = ManualClock(T0 / 1000)
    hub = Hub(config, data_dir, clock=clock)
    await hub.start()
    try:
        alice = await logged_in(hub, "alice")
        # (seconds after the last, the state); the provider's own ts says the year 2000
        states = [
            (0, state(1, OLD, 10_000, 10_000, held=True)),
            (10, state(2, OLD, 10_000, 9_950, held=True)),  # 10 s: not kept
            (60, state(3, OLD, 10_000, 9_900, held=True)),  # 70 s: an equity sample
            (10, state(4, OLD, 10_100, 10_100, held=False)),  # closed: +100
            (10, state(5, OLD, 12_100, 12_100, held=False)),  # a deposit of 2,000
        ]
        for seconds, frame in states:
            clock.advance(seconds)
            alice.send(frame)
            assert (await alice.recv())["t"] == "ack"
        await hub.parts.history_store.flush()
    finally:
        await hub.stop()
    hub = Hub(config, data_dir)  # the history outlives the hub
    await hub.start()
    try:
        bob = await logged_in(hub, "bob")
        bob.send({"t": "channel_stats", "ch": "alpha", "id": 7})
        figures = await bob.recv()
        assert (figures["t"], figures["re"], figures["ch"]) == ("channel_stats", 7, "alpha")
        assert (figures["start_ms"], figures["end_ms"]) == (T0, T0 + 90_000)  # the hub's times
        assert (figures["points"], figures["trades"], figures["profit"]) == (4, 1, 100)
        assert figures["deposits"] == 2_000 and figures["growth_pct"] == pytest.approx(1.0)
        assert figures["equity_drawdown"] == 100 and figures["currency"] == "USD"
        bob.send({"t": "channel_stats", "ch": "alpha", "since_ms": T0 + 85_000, "id": 8})
        later = await bob.recv()  # from the last full moment before the period on
        assert (later["trades"], later["points"]) == (0, 2)
        mallory = await logged_in(hub, "mallory")
        mallory.send({"t": "channel_stats", "ch": "alpha", "id": 9})
        assert (await mallory.recv())["code"] == "forbidden"
        mallory.send({"t": "channel_stats", "ch": "beta", "id": 10})
        assert (await mallory.recv())["code"] == "not_found"
    finally:
        await hub.stop()


async def test_a_providers_deals_make_its_trades(start_hub: Any, tmp_path: Path) -> None:
    """`tradewire provide` on a paper account sends its deals after the state that shows
    them: the figures count the paper ledger's realised profit, trade by trade; a bad deals
    frame is refused in one line and keeps nothing."""
    hub = await start_hub()
    host, port = hub.addresses[0]
    broker = await PaperBroker.open(tmp_path / "p.db", PaperSettings(mode="hedging"))
    client = HubClient(host, port, "alice", PASSWORD)
    await client.start()
    provider = Provider(broker, client, "alpha", refresh_s=60.0)
    try:
        await provider.publish_now()  # the moment before any trade
        await broker.pin("EURUSD", 1.1000, 1.1002)
        fill = await broker.market_order(OrderRequest("EURUSD", "buy", 1.0))
        await provider.publish_now()
        await broker.pin("EURUSD", 1.1052, 1.1054)
        await broker.market_order(OrderRequest("EURUSD", "sell", 1.0, fill.position_id))
        await provider.publish_now()
        assert provider.deals_sent == 2
        figures = await client.channel_stats("alpha")
        assert figures.trades_from == "deals" and figures.trades == 1
        assert figures.profit == pytest.approx(500.0)  # (1.1052 - 1.1002) x 100,000
        assert figures.deposits == pytest.approx(0.0)
        with pytest.raises(HubRefused) as refused:
            bad = Deal("9", "9", "EURUSD", "buy", -1.0, 1.1, 1)
            await client.put_deals("alpha", [bad], "bad-1")
        assert refused.value.code == "invalid_deals" and "volume" in str(refused.value)
        assert len(await hub.parts.history_store.deals("alpha")) == 2
    finally:
        await client.close()
        await broker.close()
