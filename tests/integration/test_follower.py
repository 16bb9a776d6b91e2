"""The follower against a paper account, fed states directly (no hub needed for these)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.copy import CopyRules
from tradewire.protocol.messages import Account, Position, StateUpdate


def update(seq: int, *positions: Position, ts: int = 0) -> StateUpdate:
    account = Account("p", "USD", 10_000, 10_000, 100, "hedging")
    return StateUpdate("alpha", seq, ts or int(time.time() * 1000), account, list(positions))


async def test_no_state_means_no_action(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    follower = Follower(broker, "alpha", CopyRules())
    assert await follower.sync_once() == []
    assert await broker.order_log() == []
    await broker.close()


async def test_stop_equity_closes_everything_copied_and_stops_for_good(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging", balance=1_000))
    follower = Follower(broker, "alpha", CopyRules(stop_equity=800), resync_s=0.05)
    task = asyncio.create_task(follower.run())
    follower.on_state(
        update(
            1,
            Position("1", "EURUSD", "buy", 0.5, 1.08, 1),
            Position("2", "XAUUSD", "sell", 0.1, 2300, 2),
        )
    )
    for _ in range(100):
        if len(await broker.positions()) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(await broker.positions()) == 2
    # Equity drops under the stop (simulated by a stricter stop on the same account).
    follower.rules = CopyRules(stop_equity=5_000)
    follower.wake()
    await asyncio.wait_for(task, 5)  # run() ends once everything copied is closed
    assert await broker.positions() == [] and follower.stopped
    # Even if equity recovers, nothing is reopened by this follower.
    follower.rules = CopyRules()
    await follower.sync_once()
    await asyncio.sleep(0.1)
    assert await broker.positions() == []
    assert [e["event"] for e in follower.journal.recent][-1] == "stopped"
    await broker.close()


async def test_latency_and_slippage_are_journalled(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    journal_path = tmp_path / "journal.jsonl"
    follower = Follower(broker, "alpha", CopyRules(), journal=Journal(journal_path))
    follower.on_state(update(1, Position("1", "EURUSD", "buy", 0.5, 1.0800, 1)))
    await follower.sync_once()
    await asyncio.sleep(0.1)
    follower.journal.close()
    (entry,) = [json.loads(line) for line in journal_path.read_text().splitlines()]
    assert entry["event"] == "fill" and entry["action"] == "open" and entry["seq"] == 1
    assert 0 <= entry["latency_ms"] < 5_000
    quote_points = (entry["price"] - 1.08) / 0.00001
    assert abs(entry["slippage_points"] - quote_points) < 1
    await broker.close()
