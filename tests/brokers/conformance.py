"""The conformance suite every Broker adapter must pass.

A test module provides a ``broker_factory`` fixture: ``await broker_factory(mode)`` returns a
fresh, empty account in that mode trading EURUSD and GBPUSD. Then it imports these tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec
import pytest

from tradewire.brokers.base import Broker, DealHistory, OrderRequest, PendingOrder
from tradewire.exceptions import OrderRejected

BrokerFactory = Callable[[str], Awaitable[Broker]]


def net(positions: list, symbol: str) -> float:
    return round(
        sum(p.volume if p.side == "buy" else -p.volume for p in positions if p.symbol == symbol), 8
    )


@pytest.mark.parametrize("mode", ["netting", "hedging"])
async def test_account_and_quotes(broker_factory: BrokerFactory, mode: str) -> None:
    broker = await broker_factory(mode)
    account = await broker.account()
    assert account.mode == mode and account.balance > 0 and account.equity == account.balance
    assert account.margin == 0 and await broker.positions() == []
    quote = await broker.quote("EURUSD")
    assert 0 < quote.bid < quote.ask
    spec = await broker.symbol("EURUSD")
    assert spec is not None and spec.volume_step > 0 and spec.contract_size > 0
    assert await broker.symbol("NOSUCH") is None


@pytest.mark.parametrize("mode", ["netting", "hedging"])
async def test_open_fills_at_the_ask_and_shows_up(broker_factory: BrokerFactory, mode: str) -> None:
    broker = await broker_factory(mode)
    quote = await broker.quote("EURUSD")
    fill = await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, magic=7, comment="tw:1"))
    assert fill.volume == 0.1 and abs(fill.price - quote.ask) < 0.001
    (pos,) = await broker.positions()
    assert (pos.symbol, pos.side, pos.volume, pos.id) == ("EURUSD", "buy", 0.1, fill.position_id)
    assert pos.magic == 7 and pos.comment == "tw:1"
    account = await broker.account()
    assert account.margin > 0


async def test_netting_nets_and_reverses(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory("netting")
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.2))
    assert [(p.side, p.volume) for p in await broker.positions()] == [("buy", 0.3)]
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.5))
    assert [(p.side, p.volume) for p in await broker.positions()] == [("sell", 0.2)]
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.2))
    assert await broker.positions() == []


async def test_hedging_keeps_positions_apart_and_closes_by_id(
    broker_factory: BrokerFactory,
) -> None:
    broker = await broker_factory("hedging")
    first = await broker.market_order(OrderRequest("EURUSD", "buy", 0.3))
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.1))
    assert len(await broker.positions()) == 2
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.1, position_id=first.position_id))
    volumes = {p.id: p.volume for p in await broker.positions()}
    assert volumes[first.position_id] == 0.2
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.2, position_id=first.position_id))
    assert [p.side for p in await broker.positions()] == ["sell"]


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (OrderRequest("NOSUCH", "buy", 0.1), "unknown_symbol"),
        (OrderRequest("EURUSD", "buy", 0.015), "volume_step"),
        (OrderRequest("EURUSD", "buy", 0.0), "volume_range"),
        (OrderRequest("EURUSD", "buy", 1000.0), "volume_range"),
        (OrderRequest("EURUSD", "sell", 0.1, position_id="999999"), "position_not_found"),
    ],
)
async def test_rejections_change_nothing(
    broker_factory: BrokerFactory, order: OrderRequest, reason: str
) -> None:
    broker = await broker_factory("hedging")
    await broker.market_order(OrderRequest("GBPUSD", "buy", 0.1))
    before = await broker.positions()
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(order)
    assert caught.value.reason == reason
    assert await broker.positions() == before


async def test_changes_are_announced(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory("hedging")
    changes = broker.changes()
    waiter = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    await asyncio.wait_for(waiter, 2)


async def test_position_deals_say_who_traded_and_survive_a_reversal(
    broker_factory: BrokerFactory,
) -> None:
    """A netting follower's ledger of its own volume (copy/holdings.py) rests on this."""
    broker = await broker_factory("netting")
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.05))  # a manual trade: magic 0
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, magic=7))
    (pos,) = await broker.positions()
    deals = await broker.position_deals(pos.id)
    assert [(d.symbol, d.side, d.volume, d.magic) for d in deals] == [
        ("EURUSD", "buy", 0.05, 0),
        ("EURUSD", "buy", 0.1, 7),
    ]
    assert all(d.position_id == pos.id for d in deals)
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.3, magic=7))
    (flipped,) = await broker.positions()
    assert (flipped.id, flipped.side, flipped.volume) == (pos.id, "sell", 0.15)
    deals = await broker.position_deals(pos.id)
    assert net([msgspec.structs.replace(d, symbol="EURUSD") for d in deals], "EURUSD") == -0.15
    assert [d.magic for d in deals] == [0, 7, 7]
    assert [d.entry for d in deals] == ["in", "in", "inout"]
    assert await broker.position_deals("987654") == []


@pytest.mark.parametrize("mode", ["netting", "hedging"])
async def test_the_deal_history_says_entries_and_profit(
    broker_factory: BrokerFactory, mode: str
) -> None:
    """What a provider sends for its channel's statistics (protocol 1.5): every adapter keeps
    a deal history (DealHistory), except the terminal bridge's, whose module leaves it out."""
    broker = await broker_factory(mode)
    assert isinstance(broker, DealHistory)
    since = int(time.time() * 1000) - 1000
    balance = (await broker.account()).balance
    opened = await broker.market_order(OrderRequest("EURUSD", "buy", 0.2))
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.2, opened.position_id))
    deals = await broker.deals_since(since)
    assert [(d.entry, d.side, d.volume) for d in deals] == [
        ("in", "buy", 0.2),
        ("out", "sell", 0.2),
    ]
    assert deals[0].profit == 0 and all(d.position_id == opened.position_id for d in deals)
    result = sum(d.profit + d.commission + d.swap for d in deals)
    assert (await broker.account()).balance == pytest.approx(balance + result, abs=0.01)
    assert await broker.deals_since(int(time.time() * 1000) + 60_000) == []


@pytest.mark.parametrize("mode", ["netting", "hedging"])
async def test_an_order_places_its_stops_and_a_modification_moves_them(
    broker_factory: BrokerFactory, mode: str
) -> None:
    broker = await broker_factory(mode)
    quote = await broker.quote("EURUSD")
    sl, tp = round(quote.bid - 0.0050, 5), round(quote.bid + 0.0080, 5)
    fill = await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, sl=sl, tp=tp))
    (pos,) = await broker.positions()
    assert (pos.id, pos.sl, pos.tp) == (fill.position_id, sl, tp)
    await broker.modify_position(pos.id, round(sl + 0.0010, 5), 0.0)  # 0 removes the TP
    (pos,) = await broker.positions()
    assert (pos.sl, pos.tp, pos.volume) == (round(sl + 0.0010, 5), 0.0, 0.1)


@pytest.mark.parametrize(
    ("sl_offset", "tp_offset", "position"),
    [
        (+0.0050, 0.0, None),  # a buy's stop-loss above the bid
        (0.0, -0.0050, None),  # its take-profit below
        (-0.00002, 0.0, None),  # within the stops level
        (-0.0050, 0.0, "999999"),  # no such position
    ],
)
async def test_stops_the_broker_refuses_change_nothing(
    broker_factory: BrokerFactory, sl_offset: float, tp_offset: float, position: str | None
) -> None:
    broker = await broker_factory("hedging")
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    (before,) = await broker.positions()
    quote = await broker.quote("EURUSD")
    sl = round(quote.bid + sl_offset, 5) if sl_offset else 0.0
    tp = round(quote.bid + tp_offset, 5) if tp_offset else 0.0
    with pytest.raises(OrderRejected) as caught:
        await broker.modify_position(position or before.id, sl, tp)
    assert caught.value.reason == ("position_not_found" if position else "invalid_stops")
    assert await broker.positions() == [before]
    if not position:
        with pytest.raises(OrderRejected) as caught:
            await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, sl=sl, tp=tp))
        assert caught.value.reason == "invalid_stops"
        assert await broker.positions() == [before]


@pytest.mark.parametrize("mode", ["netting", "hedging"])
async def test_pending_orders_are_placed_listed_moved_and_cancelled(
    broker_factory: BrokerFactory, mode: str
) -> None:
    broker = await broker_factory(mode)
    quote = await broker.quote("EURUSD")
    price = round(quote.ask - 0.0050, 5)
    expires = int(time.time() * 1000) + 3_600_000
    wanted = PendingOrder(
        "", "EURUSD", "buy_limit", 0.2, price, sl=round(price - 0.0030, 5),
        tp=round(price + 0.0060, 5), expiration=expires, magic=7, comment="tw:p42",
    )  # fmt: skip
    ticket = await broker.place_order(wanted)
    (order,) = await broker.orders()
    assert order.id == ticket and order.id
    assert (order.symbol, order.type, order.volume, order.price) == (
        "EURUSD",
        "buy_limit",
        0.2,
        price,
    )
    assert (order.sl, order.tp, order.magic, order.comment) == (wanted.sl, wanted.tp, 7, "tw:p42")
    assert abs(order.expiration - expires) < 1000  # MT5 keeps whole seconds
    assert await broker.positions() == []
    lower = round(price - 0.0010, 5)
    await broker.modify_order(ticket, lower, round(lower - 0.0030, 5), 0.0, 0)
    (moved,) = await broker.orders()
    assert (moved.id, moved.price, moved.tp, moved.expiration) == (ticket, lower, 0.0, 0)
    await broker.cancel_order(ticket)
    assert await broker.orders() == []
    with pytest.raises(OrderRejected) as caught:
        await broker.cancel_order(ticket)
    assert caught.value.reason == "order_not_found"


@pytest.mark.parametrize(
    ("kind", "offset", "expires_in_ms", "reason"),
    [
        ("buy_limit", +0.0050, 0, "invalid_price"),  # a buy limit above the market
        ("sell_stop", +0.0050, 0, "invalid_price"),  # a sell stop above it
        ("buy_stop", +0.0050, -60_000, "invalid_expiration"),
    ],
)
async def test_pending_orders_the_broker_refuses_change_nothing(
    broker_factory: BrokerFactory, kind: str, offset: float, expires_in_ms: int, reason: str
) -> None:
    broker = await broker_factory("hedging")
    quote = await broker.quote("EURUSD")
    expiration = int(time.time() * 1000) + expires_in_ms if expires_in_ms else 0
    order = PendingOrder(
        "",
        "EURUSD",
        kind,
        0.1,
        round(quote.ask + offset, 5),
        expiration=expiration,  # type: ignore[arg-type]
    )
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(order)
    assert caught.value.reason == reason
    assert await broker.orders() == [] and await broker.positions() == []


@pytest.mark.parametrize(
    ("mode", "reverse"), [("netting", False), ("hedging", False), ("hedging", True)]
)
async def test_a_follower_copies_stops_and_pending_orders_onto_it(
    broker_factory: BrokerFactory, mode: str, reverse: bool
) -> None:
    """Copy protection through this adapter: the provider's SL/TP and a pending order appear
    at this broker; a change of the SL is one modification of the same position."""
    from tradewire.clients.follower import Follower
    from tradewire.copy import CopyRules
    from tradewire.model import Account, Position
    from tradewire.protocol.messages import StateUpdate

    broker = await broker_factory(mode)
    quote = await broker.quote("EURUSD")
    entry = quote.ask
    position = Position(
        "11", "EURUSD", "buy", 0.2, entry, 1,
        sl=round(quote.bid - 0.0050, 5), tp=round(quote.bid + 0.0070, 5),
    )  # fmt: skip
    gbp = await broker.quote("GBPUSD")
    limit_price = round(gbp.ask - 0.0040, 5)
    order = PendingOrder(
        "12", "GBPUSD", "buy_limit", 0.1, limit_price, 1, sl=round(limit_price - 0.0030, 5)
    )
    provider = Account("p", "USD", 10_000, 10_000, 100, "hedging")
    follower = Follower(broker, "alpha", CopyRules(reverse=reverse))

    async def copy(seq: int, pos: Position) -> None:
        now = int(time.time() * 1000)
        follower.on_state(StateUpdate("alpha", seq, now, provider, [pos], [order]))
        for _ in range(6):  # a few rounds, each after the last one's orders finished
            await follower.sync_once()
            await asyncio.sleep(0.15)

    await copy(1, position)
    (held,) = await broker.positions()
    side = "sell" if reverse else "buy"
    stops = (position.tp, position.sl) if reverse else (position.sl, position.tp)
    assert (held.side, held.volume, (held.sl, held.tp)) == (side, 0.2, stops)
    (mine,) = await broker.orders()
    kind = "sell_stop" if reverse else "buy_limit"
    assert (mine.type, mine.volume, mine.price, mine.magic) == (kind, 0.1, limit_price, 7_400_001)
    assert (mine.tp if reverse else mine.sl) == order.sl
    moved = msgspec.structs.replace(position, sl=round(position.sl + 0.0010, 5))
    await copy(2, moved)
    (after,) = await broker.positions()
    assert after.id == held.id and after.volume == 0.2
    assert (after.tp if reverse else after.sl) == moved.sl
    assert len(await broker.position_deals(after.id)) == 1  # no close and reopen
    assert [o.id for o in await broker.orders()] == [mine.id]
