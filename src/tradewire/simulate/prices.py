"""The prices a what-if replay fills at (docs/simulate.md), best source first:

1. **ticks** the hub stored, when one is at most ``TICK_AGE_MS`` before the moment;
2. **deals** the provider sent: a deal's price is where the provider filled (the ask of a buy,
   the bid of a sell), so a follower copying it at once fills there too;
3. **states**: a position's open price where it first appears, and for a position closed
   without a deal, the close price its profit implies (the balance change at that moment);
A known price holds until the next one; a symbol quoted before its first known price gets that
first price, counted as **unknown**.

Prices from deals and states have no spread: bid and ask are the same. Pure.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from tradewire.brokers.ledger import to_usd
from tradewire.brokers.symbols import resolve
from tradewire.exceptions import OrderRejected
from tradewire.model import Deal, Position
from tradewire.stats.trades import Point, walk

TICK_AGE_MS = 60_000
SOURCES = ("ticks", "deals", "states", "unknown")
# (bid, ask) of a symbol at or just before a time, from the tick store; None: no tick
TickLookup = Callable[[str, int], tuple[float, float] | None]


class PriceBook:
    def __init__(
        self,
        points: Sequence[Point],
        deals: Sequence[tuple[int, Deal]],
        ticks: TickLookup | None = None,
    ) -> None:
        self._ticks = ticks
        self._known: dict[str, tuple[list[int], list[float], list[str]]] = {}
        self.used: Counter[str] = Counter()  # quotes given, by source
        self.held_ms: Counter[str] = Counter()  # symbol-milliseconds priced, by source
        self._from_states(points, {d.position_id for _, d in deals if d.entry != "in"})
        for at, deal in deals:  # after the states: at the same moment, a deal's price wins
            self._add(deal.symbol, at, deal.price, "deals")
        for times, prices, sources in self._known.values():
            order = sorted(range(len(times)), key=times.__getitem__)
            times[:] = [times[i] for i in order]
            prices[:] = [prices[i] for i in order]
            sources[:] = [sources[i] for i in order]

    def _add(self, symbol: str, ts: int, price: float, source: str) -> None:
        times, prices, sources = self._known.setdefault(symbol, ([], [], []))
        times.append(ts)
        prices.append(price)
        sources.append(source)

    def _from_states(self, points: Sequence[Point], closed_by_deal: set[str]) -> None:
        first: dict[str, Position] = {}
        for point in points:
            for p in point.positions or ():
                if p.id not in first:
                    first[p.id] = p
                    self._add(p.symbol, point.ts, p.price, "states")
        for trade in walk(points).trades:
            pos = first.get(trade.position_id)
            spec = resolve(trade.symbol)
            if trade.position_id in closed_by_deal or pos is None or spec is None:
                continue
            try:  # the profit is in USD (the paper account's currency): back to the quote's
                per_unit = to_usd(1.0, spec.quote, partial(self.mid, ts=trade.closed_ms))
            except OrderRejected:
                continue
            # Several closed at once share the balance change by volume: each gets its price
            # from the same profit per lot, an approximation docs/simulate.md states.
            move = trade.profit / (trade.volume * spec.contract_size * per_unit)
            price = pos.price + (move if pos.side == "buy" else -move)
            if price > 0:
                self._add(trade.symbol, trade.closed_ms, price, "states")

    def mid(self, symbol: str, ts: int) -> float | None:
        known = self._known.get(symbol)
        if known is None:
            return None
        i = bisect.bisect_right(known[0], ts) - 1
        return known[1][i] if i >= 0 else None

    def quote(self, symbol: str, ts: int, holds_ms: int = 0) -> tuple[float, float] | None:
        """(bid, ask) of ``symbol`` at ``ts``, counted by source, and ``holds_ms`` (until the
        next moment) added to that source's time; None: nothing known yet."""
        if self._ticks is not None and (tick := self._ticks(symbol, ts)) is not None:
            self.used["ticks"] += 1
            self.held_ms["ticks"] += holds_ms
            return tick
        known = self._known.get(symbol)
        if known is None:
            return None
        times, prices, sources = known
        i = bisect.bisect_right(times, ts) - 1
        # A known price holds until the next; before the first, the first is the best guess.
        source = sources[i] if i >= 0 else "unknown"
        self.used[source] += 1
        if i >= 0:  # before its first price nothing of the symbol was ever held: no time
            self.held_ms[source] += holds_ms
        price = prices[max(i, 0)]
        return price, price

    def symbols(self) -> Iterable[str]:
        return self._known.keys()
