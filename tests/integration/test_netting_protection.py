"""A netting follower manages only its own volume, and a runaway stops at the breaker.

Real paper accounts (SQLite files), real followers running their loops; states fed directly.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.breakers import breakers_path, clear_breakers
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.copy import CopyRules
from tradewire.model import OrderRequest
from tradewire.protocol.messages import Account, Position, StateUpdate

MAGIC = CopyRules().magic


def update(seq: int, *positions: Position, channel: str = "alpha") -> StateUpdate:
    account = Account("p", "USD", 10_000, 10_000, 100, "hedging")
    return StateUpdate(channel, seq, int(time.time() * 1000), account, list(positions))


async def filled_orders(broker: PaperBroker, magic: int | None = None) -> int:
    return sum(
        1
        for o in await broker.order_log()
        if o.status == "filled" and (magic is None or o.magic == magic)
    )


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_a_manual_position_is_left_alone_and_the_copy_is_bought_once(
    tmp_path: Path,
) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.05))  # the trader's own, magic 0
    follower = Follower(broker, "alpha", CopyRules(), resync_s=0.05)
    task = asyncio.create_task(follower.run())
    try:
        follower.on_state(update(1, Position("1", "EURUSD", "buy", 0.1, 1.08, 1)))
        await settle(1.5)  # thirty rounds: a runaway would have bought again and again
        assert await filled_orders(broker, MAGIC) == 1
        (pos,) = await broker.positions()
        assert (pos.side, pos.volume, pos.magic) == ("buy", 0.15, 0)
        holding = follower.status()["holdings"]["EURUSD"]
        assert holding == {"net": 0.15, "own": 0.1, "foreign": 0.05, "settled": True}
        # The provider closes: the follower sells its own 0.1 and leaves the manual 0.05.
        follower.on_state(update(2))
        await settle(0.8)
        (pos,) = await broker.positions()
        assert (pos.side, pos.volume) == ("buy", 0.05)
        assert await filled_orders(broker, MAGIC) == 2
        assert follower.breaker.tripped == {}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()


async def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    broker = await PaperBroker.open(path, PaperSettings(mode="netting"))
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.2))  # manual, the other way
    first = Follower(broker, "alpha", CopyRules())
    first.on_state(update(1, Position("1", "EURUSD", "buy", 0.5, 1.08, 1)))
    await first.sync_once()
    await settle(0.2)
    await broker.close()
    broker = await PaperBroker.open(path, PaperSettings(mode="netting"))
    again = Follower(broker, "alpha", CopyRules())
    again.on_state(update(1, Position("1", "EURUSD", "buy", 0.5, 1.08, 1)))
    assert await again.sync_once() == []  # it knows its 0.5 from the deals
    assert again.status()["holdings"]["EURUSD"]["own"] == 0.5
    assert again.status()["holdings"]["EURUSD"]["foreign"] == -0.2
    await broker.close()


async def test_two_followers_on_one_account_stop_within_three_orders(tmp_path: Path) -> None:
    """Same magic on one netting account, two channels: each sees the other's deals as its
    own and would trade against it forever. Counted from when the second one starts."""
    path = tmp_path / "f.db"
    a_broker = await PaperBroker.open(path, PaperSettings(mode="netting"))
    b_broker = await PaperBroker.open(path, PaperSettings(mode="netting"))
    a = Follower(
        a_broker, "alpha", CopyRules(), resync_s=0.05, journal=Journal(tmp_path / "a.jsonl")
    )
    b = Follower(
        b_broker, "beta", CopyRules(), resync_s=0.05, journal=Journal(tmp_path / "b.jsonl")
    )
    tasks = [asyncio.create_task(a.run())]
    try:
        a.on_state(update(1, Position("1", "EURUSD", "buy", 0.1, 1.08, 1)))
        await settle(0.5)
        before = await filled_orders(a_broker)
        assert before == 1
        tasks.append(asyncio.create_task(b.run()))
        b.on_state(update(1, Position("9", "EURUSD", "buy", 0.3, 1.08, 1), channel="beta"))
        await settle(3.0)
        assert await filled_orders(a_broker) - before <= 3
        tripped = a.breaker.tripped | b.breaker.tripped
        assert "EURUSD" in tripped
        journals = [
            json.loads(line)
            for name in ("a", "b")
            for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()
        ]
        assert any(e["event"] == "breaker" and e["key"] == "EURUSD" for e in journals)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await a_broker.close()
        await b_broker.close()


async def test_a_tripped_breaker_holds_across_a_restart_until_cleared(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    journal = tmp_path / "f.jsonl"
    breakers_path(journal).write_text(json.dumps({"EURUSD": "tripped by a test"}))
    follower = Follower(broker, "alpha", CopyRules(), resync_s=0.05, journal=Journal(journal))
    task = asyncio.create_task(follower.run())
    try:
        follower.on_state(update(1, Position("1", "EURUSD", "buy", 0.1, 1.08, 1)))
        await settle(0.5)
        assert await filled_orders(broker) == 0
        assert follower.status()["breakers"] == {"EURUSD": "tripped by a test"}
        assert clear_breakers(breakers_path(journal), ["EURUSD"]) == ["EURUSD"]
        follower.wake()
        await settle(0.5)
        assert await filled_orders(broker) == 1
        assert follower.status()["breakers"] == {}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()
