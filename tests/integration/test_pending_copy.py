"""Pending orders copied: placed, moved, cancelled, and what happens when either side triggers
first, on real paper accounts with real follower loops (states fed directly)."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.clients.triggers import TriggerWatch, triggers_path
from tradewire.clock import ManualClock
from tradewire.copy import CopyRules
from tradewire.copy.rules import parse_rules
from tradewire.model import PendingOrder, Position
from tradewire.protocol.messages import Account, StateUpdate

HEDGING = Account("p", "USD", 10_000, 10_000, 100, "hedging")


def update(seq: int, positions: list[Position], orders: list[PendingOrder] | None) -> StateUpdate:
    return StateUpdate("alpha", seq, int(time.time() * 1000), HEDGING, positions, orders)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


class Run:
    """A follower copying onto a paper account, its loop running."""

    def __init__(self, broker: PaperBroker, follower: Follower) -> None:
        self.broker, self.follower = broker, follower

    def send(self, seq: int, positions: list[Position], orders: list[PendingOrder] | None) -> None:
        self.follower.on_state(update(seq, positions, orders))

    async def orders(self) -> list[PendingOrder]:
        return await self.broker.orders()

    async def history(self) -> list[str]:
        return [f"{r.action}:{r.status}" for r in await self.broker.pending_history()]


async def start(tmp_path: Path, mode: str = "hedging", **rules: object) -> AsyncIterator[Run]:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode=mode))  # type: ignore[arg-type]
    follower = Follower(broker, "alpha", CopyRules(**rules), resync_s=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(follower.run())
    try:
        yield Run(broker, follower)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()


@pytest.fixture
async def run(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Run]:
    params = getattr(request, "param", {})
    async for r in start(tmp_path, **params):
        yield r


async def limit_below(broker: PaperBroker, pips: float = 40, volume: float = 0.3) -> PendingOrder:
    quote = await broker.quote("EURUSD")
    price = round(quote.ask - pips * 0.0001, 5)
    return PendingOrder(
        "501", "EURUSD", "buy_limit", volume, price, 1,
        sl=round(price - 0.0030, 5), tp=round(price + 0.0050, 5),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("run", "kind", "link"),
    [
        ({"mode": "hedging"}, "buy_limit", "tw:p501:0.3:0.3"),
        ({"mode": "netting"}, "buy_limit", "tw:o501"),
        ({"mode": "hedging", "reverse": True}, "sell_stop", "tw:p501:0.3:0.3"),
    ],
    indirect=["run"],
)
async def test_an_order_is_placed_moved_and_cancelled_once_each(
    run: Run, kind: str, link: str
) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    (mine,) = await run.orders()
    assert (mine.type, mine.volume, mine.price, mine.comment) == (kind, 0.3, source.price, link)
    reverse = kind != source.type
    assert (mine.sl, mine.tp) == ((source.tp, source.sl) if reverse else (source.sl, source.tp))
    moved = msgspec.structs.replace(source, price=round(source.price - 0.0010, 5))
    run.send(2, [], [moved])

    async def followed() -> bool:
        return [o.price for o in await run.orders()] == [moved.price]

    await until(followed, 3.0)
    assert (await run.orders())[0].id == mine.id  # the same order, moved
    run.send(3, [], [])
    await until(lambda: _empty(run), 3.0)
    await asyncio.sleep(0.3)
    assert await run.history() == ["place:done", "modify:done", "cancel:done"]


async def _empty(run: Run) -> bool:
    return await run.orders() == []


async def test_a_state_without_orders_leaves_linked_orders_alone(run: Run) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    run.send(2, [], None)  # a 1.1 provider: says nothing about pending orders
    await asyncio.sleep(0.4)
    assert len(await run.orders()) == 1 and await run.history() == ["place:done"]


@pytest.mark.parametrize(
    ("run", "link"),
    [({"mode": "hedging"}, "tw:p501:0.3:0.3"), ({"mode": "netting"}, "tw:o501")],
    indirect=["run"],
)
async def test_the_followers_copy_triggers_first_and_is_held_not_doubled(
    run: Run, link: str
) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    (mine,) = await run.orders()
    await run.broker.pin("EURUSD", round(source.price - 0.0002, 5), round(source.price - 0.0001, 5))

    async def triggered() -> bool:
        return len(await run.broker.positions()) == 1

    await until(triggered)
    (pos,) = await run.broker.positions()
    assert (pos.id, pos.comment, pos.magic) == (mine.id, link, 7_400_001)
    await asyncio.sleep(0.4)  # rounds with the provider's order still waiting
    assert [p.id for p in await run.broker.positions()] == [mine.id]
    assert await run.orders() == [] and len(await run.broker.order_log()) == 1
    # The provider's order fills: its position has the order's ticket as identifier.
    filled = Position("501", "EURUSD", "buy", 0.3, source.price, 2, sl=source.sl, tp=source.tp)
    run.send(2, [filled], [])
    await asyncio.sleep(0.4)
    assert [p.id for p in await run.broker.positions()] == [mine.id]
    assert len(await run.broker.order_log()) == 1  # nothing opened or closed
    run.send(3, [], [])  # the provider closes: so does the follower
    await until(lambda: _no_positions(run), 3.0)


async def _no_positions(run: Run) -> bool:
    return await run.broker.positions() == []


@pytest.mark.parametrize("run", [{"mode": "hedging"}, {"mode": "netting"}], indirect=True)
async def test_the_provider_triggers_first_the_copy_is_cancelled_then_opened_once(
    run: Run,
) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    filled = Position("501", "EURUSD", "buy", 0.3, source.price, 2, sl=source.sl, tp=source.tp)
    run.send(2, [filled], [])

    async def opened() -> bool:
        return len(await run.broker.positions()) == 1 and await run.orders() == []

    await until(opened, 3.0)
    await asyncio.sleep(0.3)
    (pos,) = await run.broker.positions()
    assert (pos.volume, pos.sl, pos.tp) == (0.3, source.sl, source.tp)
    assert await run.history() == ["place:done", "cancel:done"]
    assert len(await run.broker.order_log()) == 1


@pytest.mark.parametrize("run", [{"copy_pending": False}], indirect=True)
async def test_copy_pending_false_copies_the_position_at_market_instead(run: Run) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])
    await asyncio.sleep(0.4)
    assert await run.orders() == [] and await run.history() == []
    run.send(2, [Position("501", "EURUSD", "buy", 0.3, source.price, 2)], [])

    async def opened() -> bool:
        return len(await run.broker.positions()) == 1

    await until(opened, 3.0)


async def test_expiry_removes_the_copy_with_the_original(run: Run) -> None:
    source = msgspec.structs.replace(
        await limit_below(run.broker), expiration=int(time.time() * 1000) + 700
    )
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    assert (await run.orders())[0].expiration == source.expiration
    await until(lambda: _empty(run), 3.0)
    # Its broker expires it, or the follower, seeing the original expired, cancels it first.
    history = await run.history()
    assert history in (["place:done", "expire:done"], ["place:done", "cancel:done"]), history
    run.send(2, [], [source])  # an old state still listing it: skipped, not placed again
    await asyncio.sleep(0.4)
    assert await run.orders() == []
    skips = [e for e in run.follower.journal.recent if e["event"] == "skip"]
    assert any("expired" in e["reason"] for e in skips)


async def test_a_restarted_follower_finds_its_order_and_places_no_second(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    source = await limit_below(broker)
    first = Follower(broker, "alpha", CopyRules())
    first.on_state(update(1, [], [source]))
    await first.sync_once()  # the placement starts; the process "dies" before the next round
    await asyncio.sleep(0.2)
    await broker.close()
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    again = Follower(broker, "alpha", CopyRules())
    again.on_state(update(1, [], [source]))
    for _ in range(3):
        await again.sync_once()
        await asyncio.sleep(0.1)
    assert len(await broker.orders()) == 1
    assert [r.action for r in await broker.pending_history()] == ["place"]
    await broker.close()


@pytest.mark.parametrize("reverse", [False, True])
async def test_a_copy_that_triggers_and_closes_a_netting_position_is_not_placed_again(
    tmp_path: Path, reverse: bool
) -> None:
    """The provider is short and waits to buy back lower; the follower's copy triggers first and
    takes the follower flat: its position, and the deal that names the copy, leave the open book.
    The follower must hold that (flat), not buy back in nor place the copy again, and must still
    know it after a restart."""
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    journal = tmp_path / "follow.jsonl"
    rules = CopyRules(reverse=reverse)
    quote = await broker.quote("EURUSD")
    short = Position("400", "EURUSD", "sell", 0.3, quote.bid, 1)
    source = msgspec.structs.replace(await limit_below(broker), sl=0.0, tp=0.0)
    run = Run(broker, Follower(broker, "alpha", rules, journal=Journal(journal), resync_s=0.05))
    task = asyncio.create_task(run.follower.run())
    try:
        run.send(1, [short], [source])

        async def copied() -> bool:
            return len(await broker.positions()) == 1 and len(await run.orders()) == 1

        await until(copied)
        (mine,) = await run.orders()
        # the copy triggers: a buy limit (or, reversed, a sell stop) at the provider's price
        low = round(source.price - 0.0002, 5)
        await broker.pin("EURUSD", low, round(low + 0.0001, 5))
        await until(lambda: _no_positions(run))
        await asyncio.sleep(0.5)  # rounds with the provider still short and its order waiting
        assert await broker.positions() == [] and await run.orders() == []
        assert [r.action for r in await broker.pending_history()] == ["place", "trigger"]
        assert len(await broker.order_log()) == 2  # the copy of the short, and the trigger
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert TriggerWatch(broker, rules.magic, triggers_path(journal)).filled == {"501": mine.id}
    again = Follower(broker, "alpha", rules, journal=Journal(journal))
    again.on_state(update(2, [short], [source]))
    for _ in range(3):
        await again.sync_once()
        await asyncio.sleep(0.1)
    assert await broker.positions() == [] and await run.orders() == []
    assert len(await broker.order_log()) == 2
    # The provider's order fills: it is flat too; the memory of the copy is let go.
    again.on_state(update(3, [], []))
    await again.sync_once()
    assert len(await broker.order_log()) == 2
    assert TriggerWatch(broker, rules.magic, triggers_path(journal)).filled == {}
    await broker.close()


async def test_a_copy_closed_by_its_own_take_profit_is_not_placed_again(run: Run) -> None:
    source = await limit_below(run.broker)
    run.send(1, [], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    low = round(source.price - 0.0002, 5)
    await run.broker.pin("EURUSD", low, round(low + 0.0001, 5))

    async def triggered() -> bool:
        return len(await run.broker.positions()) == 1

    await until(triggered)
    high = round(source.tp + 0.0002, 5)
    await run.broker.pin("EURUSD", high, round(high + 0.0001, 5))  # its take-profit
    await asyncio.sleep(0.5)
    # The provider's order still waits: the follower's copy filled and is not placed again.
    assert [r.action for r in await run.broker.pending_history()] == ["place", "trigger"]
    assert await run.orders() == []


@pytest.mark.parametrize("run", [{"mode": "netting"}], indirect=True)
async def test_returning_to_a_target_after_a_copy_triggered_is_not_orders_turning_back(
    run: Run,
) -> None:
    """The follower bought to reduce its short to the target -0.3; its pending copy then took it
    to +0.3 with no order; when the provider closes that position the follower must sell back
    to -0.3, which is a new target reached, not orders turning back (the breaker stayed quiet)."""
    quote = await run.broker.quote("EURUSD")
    run.send(1, [Position("400", "EURUSD", "sell", 0.6, quote.bid, 1)], [])
    await until(lambda: _holds(run, "sell", 0.6))
    short = Position("400", "EURUSD", "sell", 0.3, quote.bid, 1)
    run.send(2, [short], [])
    await until(lambda: _holds(run, "sell", 0.3))  # bought 0.3 towards -0.3
    source = msgspec.structs.replace(await limit_below(run.broker, volume=0.6), sl=0.0, tp=0.0)
    run.send(3, [short], [source])

    async def placed() -> bool:
        return len(await run.orders()) == 1

    await until(placed)
    low = round(source.price - 0.0002, 5)
    await run.broker.pin("EURUSD", low, round(low + 0.0001, 5))
    await until(lambda: _holds(run, "buy", 0.3))  # its copy triggered: no order sent
    filled = Position("501", "EURUSD", "buy", 0.6, source.price, 2)
    run.send(4, [short, filled], [])
    await asyncio.sleep(0.3)
    run.send(5, [short], [])  # the provider closes what its order opened
    await until(lambda: _holds(run, "sell", 0.3))
    assert run.follower.breaker.tripped == {}
    sides = [r.side for r in await run.broker.order_log()]
    assert sides == ["sell", "buy", "buy", "sell"]  # open, reduce, the trigger, back


async def _holds(run: Run, side: str, volume: float) -> bool:
    positions = await run.broker.positions()
    return [(p.side, p.volume) for p in positions] == [(side, volume)]


async def test_a_stale_signal_and_a_price_guard_are_journaled_once_not_every_round(
    tmp_path: Path,
) -> None:
    """Issue 25: the stale-signal skip carries the signal's age and the price guard the price,
    so every round's reason differed and was journaled again (every 5 s). Once per episode."""
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    clock = ManualClock(start=time.time())
    rules = CopyRules(max_signal_age_s=10, max_deviation_points=1)
    follower = Follower(broker, "alpha", rules, clock=clock)
    quote = await broker.quote("EURUSD")
    far = Position("1", "EURUSD", "buy", 0.3, round(quote.ask - 0.0100, 5), 1)  # 100 pips away
    follower.on_state(update(1, [far], []))
    for _ in range(3):  # fresh: the price guard holds back the open, with a moving price
        await follower.sync_once()
        await broker.pin("EURUSD", quote.bid + 0.0001 * _, quote.ask + 0.0001 * _)
        clock.advance(1)
    clock.advance(30)  # the signal is now stale, and older every round
    for _ in range(3):
        await follower.sync_once()
        clock.advance(5)
    skips = [e["reason"] for e in follower.journal.recent if e["event"] == "skip"]
    assert len([r for r in skips if "points worse" in r]) == 1, skips
    assert len([r for r in skips if "s old" in r]) == 1, skips
    await broker.close()


async def test_a_netting_increase_is_measured_against_the_providers_added_price(
    tmp_path: Path,
) -> None:
    """Issue 25: a netting follower of a hedging provider measured an increase against the
    provider's average entry (here 20 pips off), not the price of the lots it added."""
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    await broker.pin("EURUSD", 1.10000, 1.10010)
    follower = Follower(broker, "alpha", CopyRules())
    first = Position("1", "EURUSD", "buy", 1.0, 1.09710, 1)  # bought earlier, 30 pips lower
    follower.on_state(update(1, [first], []))
    await follower.sync_once()
    await until(lambda: _holds(Run(broker, follower), "buy", 1.0))
    added = Position("2", "EURUSD", "buy", 0.5, 1.10010, 2)  # bought now, at the ask
    follower.on_state(update(2, [first, added], []))
    await follower.sync_once()
    await until(lambda: _holds(Run(broker, follower), "buy", 1.5))
    await asyncio.sleep(0.05)
    fills = [e for e in follower.journal.recent if e["event"] == "fill"]
    assert [f["action"] for f in fills] == ["open", "increase"]
    assert fills[0]["slippage_points"] == 300.0  # the open: against the provider's entry
    assert fills[1]["slippage_points"] == 0.0  # the increase: against the 0.5 lots added
    await broker.close()


async def test_a_day_drawdown_halts_new_exposure_and_the_next_day_resumes(
    tmp_path: Path,
) -> None:
    """Issue 25: a 1% day limit on equity. The follower copies a long, the price falls until
    equity is 1% below the day's high: it is halted (journaled), a new provider position is not
    copied, a restart remembers it; after midnight in the rules' time zone it copies again."""
    broker = await PaperBroker.open(
        tmp_path / "f.db", PaperSettings(mode="netting", balance=10_000)
    )
    await broker.pin("EURUSD", 1.10000, 1.10010)
    await broker.pin("GBPUSD", 1.27000, 1.27020)
    clock = ManualClock(start=datetime.datetime(2026, 12, 7, 9, tzinfo=datetime.UTC).timestamp())
    rules = parse_rules({"risk_limit": [{"period": "day", "max_drawdown_percent": 1}]})
    journal = tmp_path / "follow.jsonl"

    def follower() -> Follower:
        made = Follower(broker, "alpha", rules, journal=Journal(journal), clock=clock)
        made.hub_clock_offset = lambda: None
        return made

    def state(seq: int, *positions: Position) -> StateUpdate:
        return StateUpdate("alpha", seq, int(clock.time() * 1000), HEDGING, list(positions), [])

    first = follower()
    long = Position("1", "EURUSD", "buy", 1.0, 1.10010, 1)
    first.on_state(state(1, long))
    await first.sync_once()
    await until(lambda: _holds(Run(broker, first), "buy", 1.0))
    await broker.pin("EURUSD", 1.09000, 1.09010)  # 100 pips: -1,000 USD on 10,000
    clock.advance(1)
    await first.sync_once()
    events = [e["event"] for e in first.journal.recent]
    assert "halt" in events, events
    added = Position("2", "GBPUSD", "buy", 0.5, 1.27020, 2)
    again = follower()  # a restart: the halt is in the risk file
    again.on_state(state(2, long, added))
    for _ in range(3):
        clock.advance(1)
        await again.sync_once()
        await asyncio.sleep(0.05)
    assert {p.symbol for p in await broker.positions()} == {"EURUSD"}  # held, not added
    clock.advance(86_400)  # the next day (UTC): the limit's new period
    again.on_state(state(3, long, added))
    await again.sync_once()
    await until(lambda: _symbols(broker, {"EURUSD", "GBPUSD"}))
    assert [e["event"] for e in again.journal.recent if e["event"] in ("halt", "resume")] == [
        "resume"
    ]
    await broker.close()


async def _symbols(broker: PaperBroker, wanted: set[str]) -> bool:
    return {p.symbol for p in await broker.positions()} == wanted


async def test_risk_sizing_converts_through_the_brokers_cross(tmp_path: Path) -> None:
    """Issue 25: ``sizing = "risk"`` on a paper account. USDJPY's profit is in JPY, so the
    follower reads USDJPY's own mid (150.01) to value it: 1% of 10,000 = 100 USD, a lot loses
    100,000 × 0.50 / 150.01 = 333.31 USD at the stop → 0.30 lots. EURUSD, 50 pips → 0.20."""
    broker = await PaperBroker.open(
        tmp_path / "f.db", PaperSettings(mode="hedging", balance=10_000)
    )
    await broker.pin("USDJPY", 150.000, 150.020)
    await broker.pin("EURUSD", 1.08500, 1.08510)
    rules = parse_rules({"sizing": "risk", "risk_percent": 1, "risk_basis": "balance"})
    follower = Follower(broker, "alpha", rules, journal=Journal(tmp_path / "f.jsonl"))
    follower.hub_clock_offset = lambda: None
    now = int(time.time() * 1000)
    yen = Position("1", "USDJPY", "buy", 2.0, 150.000, 1, sl=149.500)
    euro = Position("2", "EURUSD", "sell", 1.0, 1.08500, 2, sl=1.09000)
    follower.on_state(StateUpdate("alpha", 1, now, HEDGING, [yen, euro], []))
    await follower.sync_once()

    async def copied() -> bool:
        held = {(p.symbol, p.side, p.volume) for p in await broker.positions()}
        return held == {("USDJPY", "buy", 0.3), ("EURUSD", "sell", 0.2)}

    await until(copied)
    await broker.close()


async def test_a_skip_is_journaled_with_the_formula_that_led_to_it(tmp_path: Path) -> None:
    """Issue 25: the skip record carries the same text as --explain, once."""
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    follower = Follower(broker, "alpha", CopyRules(min_volume=0.5), journal=Journal())
    follower.on_state(update(1, [Position("1", "EURUSD", "buy", 0.1, 1.085, 1)], None))
    for _ in range(3):
        await follower.sync_once()
    (skip,) = [e for e in follower.journal.recent if e["event"] == "skip"]
    assert skip["reason"] == "volume 0.1 below the minimum 0.5"
    assert skip["explain"] == (
        "+0: 0.1 × 1 (multiplier) = 0.1 → step 0.01 → 0.1 → volume 0.1 below the minimum 0.5"
    )
    await broker.close()


async def test_the_state_found_on_joining_is_caught_up_with_not_a_copy_latency(
    tmp_path: Path,
) -> None:
    """Issue 27: the channel's last state, sent when a follower joins, may be hours old; its
    fill is journaled as catching up (no latency), and the next change's fill has one."""
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="hedging"))
    follower = Follower(broker, "alpha", CopyRules(max_signal_age_s=0), journal=Journal())
    old = StateUpdate("alpha", 1, follower.started_ms - 6_555_000, HEDGING,
                      [Position("1", "EURUSD", "buy", 0.1, 1.085, 1)])  # fmt: skip
    follower.on_state(old)
    await follower.sync_once()
    await until(lambda: _count_fills(follower, 1))
    follower.on_state(update(2, [Position("1", "EURUSD", "buy", 0.1, 1.085, 1),
                                 Position("2", "GBPUSD", "buy", 0.1, 1.265, 2)], None))  # fmt: skip
    await follower.sync_once()
    await until(lambda: _count_fills(follower, 2))
    first, second = [e for e in follower.journal.recent if e["event"] == "fill"]
    assert first["latency_ms"] is None and first["catch_up"] is True
    assert second["latency_ms"] is not None and second["latency_ms"] < 5_000
    assert len(follower.journal.latencies_ms) == 1  # p50/p99 only from real copies
    await broker.close()


async def _count_fills(follower: Follower, count: int) -> bool:
    return sum(e["event"] == "fill" for e in follower.journal.recent) == count


async def test_a_risk_sized_netting_copy_does_not_grow_when_the_provider_trails_its_stop(
    tmp_path: Path,
) -> None:
    """1% of 10,000 at a 50-pip stop is 0.2 lots; the provider trails its stop to 10 pips,
    which sized afresh would be 1.0: the follower moves its stop and buys nothing more."""
    broker = await PaperBroker.open(
        tmp_path / "f.db", PaperSettings(mode="netting", balance=10_000)
    )
    await broker.pin("EURUSD", 1.08500, 1.08510)
    rules = parse_rules({"sizing": "risk", "risk_percent": 1, "risk_basis": "balance"})
    follower = Follower(broker, "alpha", rules, journal=Journal())
    follower.hub_clock_offset = lambda: None
    first = Position("1", "EURUSD", "buy", 1.0, 1.08500, 1, sl=1.08000)
    follower.on_state(update(1, [first], None))
    await follower.sync_once()
    await until(lambda: _holds(Run(broker, follower), "buy", 0.2))
    trailed = msgspec.structs.replace(first, sl=1.08400)
    follower.on_state(update(2, [trailed], None))
    for _ in range(4):
        await follower.sync_once()
        await asyncio.sleep(0.05)
    assert [(p.volume, p.sl) for p in await broker.positions()] == [(0.2, 1.084)]
    assert len(await broker.order_log()) == 1
    await broker.close()
