"""A channel's history on a real hub (hub/services/history/): the moments a provider's states
make, on the hub's clock (a provider's own times cannot backdate its record), kept across a
restart, read back as statistics by the channel's follower; equity sampled no more often than
history.sample_s; the figures refused to whoever may not read the channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import add_user, logged_in, make_config, state_frame
from tradewire.clock import ManualClock
from tradewire.config import HistorySettings
from tradewire.hub.server import Hub

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
