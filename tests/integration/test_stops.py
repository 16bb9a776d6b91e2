"""Stop-loss and take-profit copied onto netting, hedging and reversed followers, followed
when the provider moves them, and held by the follower's broker when nobody is running.

Real paper accounts (SQLite files) and real follower loops; states are fed directly."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import msgspec
import pytest

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.follower import Follower
from tradewire.copy import CopyRules
from tradewire.model import Position
from tradewire.protocol.messages import Account, StateUpdate


def update(seq: int, *positions: Position) -> StateUpdate:
    account = Account("p", "USD", 10_000, 10_000, 100, "hedging")
    return StateUpdate("alpha", seq, int(time.time() * 1000), account, list(positions))


async def until(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def provider_position(broker: PaperBroker, sl_pips: float, tp_pips: float) -> Position:
    quote = await broker.quote("EURUSD")
    return Position(
        "11", "EURUSD", "buy", 0.2, quote.ask, 1,
        sl=round(quote.bid - sl_pips * 0.0001, 5), tp=round(quote.bid + tp_pips * 0.0001, 5),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "reverse"), [("netting", False), ("hedging", False), ("hedging", True)]
)
async def test_stops_are_copied_and_a_change_is_one_modification(
    tmp_path: Path, mode: str, reverse: bool
) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode=mode))  # type: ignore[arg-type]
    follower = Follower(broker, "alpha", CopyRules(reverse=reverse), resync_s=0.05)
    task = asyncio.create_task(follower.run())
    try:
        source = await provider_position(broker, 50, 80)
        follower.on_state(update(1, source))

        async def copied() -> bool:
            return len(await broker.positions()) == 1

        await until(copied)
        (pos,) = await broker.positions()
        if reverse:  # a reversed buy: a sell whose stop-loss is the provider's take-profit
            assert (pos.side, pos.sl, pos.tp) == ("sell", source.tp, source.sl)
        else:
            assert (pos.side, pos.sl, pos.tp) == ("buy", source.sl, source.tp)
        opened = await broker.order_log()
        assert len(opened) == 1 and (opened[0].status, opened[0].volume) == ("filled", 0.2)
        # The provider tightens its stop-loss: one modification of the same position.
        moved = msgspec.structs.replace(source, sl=round(source.sl + 0.0020, 5))
        follower.on_state(update(2, moved))

        async def modified() -> bool:
            return len(await broker.modifications()) == 1

        await until(modified, 3.0)
        await asyncio.sleep(0.3)  # more rounds change nothing more
        (after,) = await broker.positions()
        assert after.id == pos.id and after.volume == pos.volume
        assert (after.tp if reverse else after.sl) == moved.sl
        assert len(await broker.order_log()) == 1  # no close and reopen
        assert [m[3] for m in await broker.modifications()] == ["done"]
        assert [e["event"] for e in follower.journal.recent].count("modify") == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()


async def test_distance_and_fixed_stops_are_measured_from_the_followers_own_fill(
    tmp_path: Path,
) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    rules = CopyRules(sl_tp_mode="distance", copy_tp="fixed", fixed_tp_points=300)
    follower = Follower(broker, "alpha", rules, resync_s=0.05)
    task = asyncio.create_task(follower.run())
    try:
        source = await provider_position(broker, 40, 80)
        source = msgspec.structs.replace(source, price=round(source.price + 0.0030, 5))
        follower.on_state(update(1, source))

        async def protected() -> bool:
            found = await broker.positions()
            return len(found) == 1 and found[0].sl > 0 and found[0].tp > 0

        await until(protected)
        await asyncio.sleep(0.3)
        (pos,) = await broker.positions()
        distance = source.price - source.sl  # the provider's, from its own (older) entry
        assert math.isclose(pos.sl, round(pos.price - distance, 5), abs_tol=1e-5)
        assert math.isclose(pos.tp, round(pos.price + 0.0030, 5), abs_tol=1e-5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()


async def test_copy_sl_no_never_touches_the_followers_stop(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    follower = Follower(broker, "alpha", CopyRules(copy_sl="no"), resync_s=0.05)
    source = await provider_position(broker, 50, 80)
    follower.on_state(update(1, source))
    await follower.sync_once()
    await asyncio.sleep(0.2)
    (pos,) = await broker.positions()
    assert (pos.sl, pos.tp) == (0.0, source.tp)
    manual_sl = round(source.sl - 0.0010, 5)
    await broker.modify_position(pos.id, manual_sl, pos.tp)  # the trader sets their own
    await follower.sync_once()
    await asyncio.sleep(0.2)
    (pos,) = await broker.positions()
    assert pos.sl == manual_sl
    await broker.close()


async def test_a_level_inside_the_stops_level_is_moved_and_journalled(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    follower = Follower(broker, "alpha", CopyRules(), resync_s=0.05)
    quote = await broker.quote("EURUSD")
    tight = round(quote.bid - 0.00002, 5)  # 2 points: inside EURUSD's stops level of 10
    source = Position("11", "EURUSD", "buy", 0.2, quote.ask, 1, sl=tight)
    follower.on_state(update(1, source))
    await follower.sync_once()
    await asyncio.sleep(0.2)
    (pos,) = await broker.positions()
    assert 0 < pos.sl < tight  # protected, at the nearest level the broker takes
    (fill,) = [e for e in follower.journal.recent if e["event"] == "fill"]
    assert "stops level 10" in fill["note"]
    await broker.close()


async def test_the_broker_closes_at_the_stop_with_nobody_running(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    broker = await PaperBroker.open(path, PaperSettings(mode="hedging"))
    follower = Follower(broker, "alpha", CopyRules())
    source = await provider_position(broker, 30, 60)
    follower.on_state(update(1, source))
    await follower.sync_once()
    await asyncio.sleep(0.2)
    (pos,) = await broker.positions()
    await broker.close()  # the follower is gone
    other = await PaperBroker.open(path, PaperSettings(mode="hedging"), create=False)
    gap = round(pos.sl - 0.0015, 5)  # the price gaps through the stop
    await other.pin("EURUSD", gap, round(gap + 0.0001, 5))
    assert await other.positions() == []
    closing = (await other.order_log())[-1]
    assert (closing.status, closing.position_id, closing.price) == ("filled", pos.id, gap)
    assert closing.comment.startswith("[sl ")
    await other.close()
