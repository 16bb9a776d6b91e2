"""A random trader that changes a paper account about as a busy provider would: opens (half
of them with a stop-loss and take-profit), partial closes, full closes, reversals, stops moved,
and pending limit orders placed near the market and cancelled, across several symbols. Seeded:
same seed, same sequence of decisions."""

from __future__ import annotations

import random

from tradewire.brokers.base import Broker
from tradewire.brokers.symbols import resolve
from tradewire.exceptions import OrderRejected
from tradewire.model import OrderRequest, PendingOrder, Position, Side

DEFAULT_SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30")


def _lots(rng: random.Random, symbol: str, most: float) -> float:
    spec = resolve(symbol)
    assert spec is not None
    steps = rng.randint(1, max(1, int(most / spec.volume_step)))
    return round(max(spec.volume_min, steps * spec.volume_step), 8)


class RandomTrader:
    """Makes one random change per :meth:`step` on ``broker`` (its account mode decides how)."""

    def __init__(
        self,
        broker: Broker,
        mode: str,
        seed: int = 7,
        symbols: tuple[str, ...] = DEFAULT_SYMBOLS,
        max_lots: float = 1.0,
    ) -> None:
        self.broker = broker
        self.mode = mode
        self.rng = random.Random(seed)
        self.symbols = symbols
        self.max_lots = max_lots
        self.changes = 0

    async def step(self) -> str:
        """Make one change; returns what it did."""
        positions = await self.broker.positions()
        roll = self.rng.random()
        if self.changes == 0:  # a short demo still shows a stop-loss and a pending order copied
            return await self._open(with_stops=True)
        if self.changes == 1:
            return await self._pending()
        if roll >= 0.8:
            return await self._pending()
        if not positions or roll < 0.3:
            return await self._open()
        target = self.rng.choice(positions)
        if roll < 0.45:
            return await self._partial_close(target)
        if roll < 0.6:
            return await self._close(target)
        if roll < 0.7:
            return await self._reverse(target)
        return await self._move_stop(target)

    async def _stops(self, symbol: str, side: Side, entry: float) -> tuple[float, float]:
        """A stop-loss and take-profit 0.2-0.4 % from ``entry`` (the feed rarely gets there in
        a minute: they show up copied, and seldom trigger)."""
        spec = resolve(symbol)
        assert spec is not None
        sign = 1.0 if side == "buy" else -1.0
        sl = entry * (1 - sign * self.rng.uniform(0.002, 0.004))
        tp = entry * (1 + sign * self.rng.uniform(0.002, 0.004))
        return round(sl, spec.digits), round(tp, spec.digits)

    async def _move_stop(self, pos: Position) -> str:
        sl, tp = await self._stops(pos.symbol, pos.side, pos.price)
        try:
            await self.broker.modify_position(pos.id, sl, tp)
        except OrderRejected as exc:
            return f"stops of {pos.symbol} rejected: {exc.reason}"
        self.changes += 1
        return f"{pos.symbol} stops moved to sl {sl:g} tp {tp:g}"

    async def _pending(self) -> str:
        """Place a limit order just off the market (it may trigger), or cancel one."""
        orders = await self.broker.orders()
        if orders and (len(orders) >= 3 or self.rng.random() < 0.4):
            order = self.rng.choice(orders)
            try:
                await self.broker.cancel_order(order.id)
            except OrderRejected as exc:
                return f"cancel of order {order.id} rejected: {exc.reason}"
            self.changes += 1
            return f"cancel {order.type} {order.symbol}"
        symbol = self.rng.choice(self.symbols)
        side: Side = self.rng.choice(["buy", "sell"])
        spec = resolve(symbol)
        assert spec is not None
        quote = await self.broker.quote(symbol)
        away = quote.ask * self.rng.uniform(0.0002, 0.0006)
        price = round(quote.ask - away if side == "buy" else quote.bid + away, spec.digits)
        sl, tp = await self._stops(symbol, side, price)
        order = PendingOrder(
            "", symbol, "buy_limit" if side == "buy" else "sell_limit",
            _lots(self.rng, symbol, self.max_lots), price,
            sl=sl, tp=tp,
        )  # fmt: skip
        try:
            await self.broker.place_order(order)
        except OrderRejected as exc:
            return f"{order.type} {symbol} rejected: {exc.reason}"
        self.changes += 1
        return f"{order.type} {order.volume} {symbol} at {price:g}"

    async def _send(self, order: OrderRequest, what: str) -> str:
        try:
            await self.broker.market_order(order)
        except OrderRejected as exc:
            return f"{what} rejected: {exc.reason}"
        self.changes += 1
        return what

    async def _open(self, with_stops: bool = False) -> str:
        symbol = self.rng.choice(self.symbols)
        side: Side = self.rng.choice(["buy", "sell"])
        volume = _lots(self.rng, symbol, self.max_lots)
        sl = tp = 0.0
        if self.rng.random() < 0.5 or with_stops:
            quote = await self.broker.quote(symbol)
            sl, tp = await self._stops(symbol, side, quote.ask if side == "buy" else quote.bid)
        what = f"open {side} {volume} {symbol}" + (f" sl {sl:g} tp {tp:g}" if sl else "")
        return await self._send(OrderRequest(symbol, side, volume, sl=sl, tp=tp), what)

    def _closing(self, pos: Position, volume: float) -> OrderRequest:
        side: Side = "sell" if pos.side == "buy" else "buy"
        position_id = pos.id if self.mode == "hedging" else None
        return OrderRequest(pos.symbol, side, volume, position_id)

    async def _partial_close(self, pos: Position) -> str:
        spec = resolve(pos.symbol)
        assert spec is not None
        steps = round(pos.volume / spec.volume_step)
        if steps < 2:
            return await self._close(pos)
        cut = round(self.rng.randint(1, steps - 1) * spec.volume_step, 8)
        return await self._send(self._closing(pos, cut), f"partial close {cut} of {pos.symbol}")

    async def _close(self, pos: Position) -> str:
        return await self._send(self._closing(pos, pos.volume), f"close {pos.symbol}")

    async def _reverse(self, pos: Position) -> str:
        extra = _lots(self.rng, pos.symbol, self.max_lots)
        side: Side = "sell" if pos.side == "buy" else "buy"
        if self.mode == "netting":  # one order through zero
            volume = round(pos.volume + extra, 8)
            return await self._send(
                OrderRequest(pos.symbol, side, volume), f"reverse {pos.symbol} to {side} {extra}"
            )
        await self._close(pos)
        return await self._send(
            OrderRequest(pos.symbol, side, extra), f"reverse {pos.symbol} to {side} {extra}"
        )
