"""A random trader that changes a paper account about as a busy provider would: opens, adds,
partial closes, full closes and reversals across several symbols. Seeded: same seed, same
sequence of decisions."""

from __future__ import annotations

import random

from tradewire.brokers.base import Broker
from tradewire.brokers.symbols import resolve
from tradewire.exceptions import OrderRejected
from tradewire.model import OrderRequest, Position, Side

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
        if not positions or roll < 0.35:
            return await self._open()
        target = self.rng.choice(positions)
        if roll < 0.6:
            return await self._partial_close(target)
        if roll < 0.8:
            return await self._close(target)
        return await self._reverse(target)

    async def _send(self, order: OrderRequest, what: str) -> str:
        try:
            await self.broker.market_order(order)
        except OrderRejected as exc:
            return f"{what} rejected: {exc.reason}"
        self.changes += 1
        return what

    async def _open(self) -> str:
        symbol = self.rng.choice(self.symbols)
        side: Side = self.rng.choice(["buy", "sell"])
        volume = _lots(self.rng, symbol, self.max_lots)
        return await self._send(
            OrderRequest(symbol, side, volume), f"open {side} {volume} {symbol}"
        )

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
