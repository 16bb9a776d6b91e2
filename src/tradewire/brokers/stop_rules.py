"""A broker's rules for stop-loss and take-profit levels, and when they trigger (pure).

As MT5 checks them (MQL5 reference, "Requirements and Limitations in Making Trades"): a buy
position's stops are compared with the bid, a sell position's with the ask; each must be on its
own side of that price and at least the symbol's stops level away. A stop triggers when that
price reaches it, and closes the position at market: after a gap, at the price there is, which
for a stop-loss is worse than the level.
"""

from __future__ import annotations

import math

from tradewire.exceptions import OrderRejected
from tradewire.model import Position, Quote, Side, SymbolSpec


def check_stops(side: Side, sl: float, tp: float, quote: Quote, spec: SymbolSpec) -> None:
    """Raise ``OrderRejected("invalid_stops")`` unless (sl, tp) may be set on a ``side``
    position now (0 is none)."""
    for name, level in (("stop-loss", sl), ("take-profit", tp)):
        if not math.isfinite(level) or level < 0:
            raise OrderRejected("invalid_stops", f"{name} {level} is not a price")
    price = quote.bid if side == "buy" else quote.ask
    sign = 1.0 if side == "buy" else -1.0
    gap = spec.stops_level * spec.point - spec.point / 2
    if sl and sign * (price - sl) < gap:
        raise OrderRejected(
            "invalid_stops",
            f"stop-loss {sl} too close to or past {price} (stops level {spec.stops_level})",
        )
    if tp and sign * (tp - price) < gap:
        raise OrderRejected(
            "invalid_stops",
            f"take-profit {tp} too close to or past {price} (stops level {spec.stops_level})",
        )


def triggered(position: Position, quote: Quote) -> str:
    """``"sl"`` or ``"tp"`` when ``quote`` reaches one of the position's stops, else ``""``."""
    if position.side == "buy":
        if position.sl and quote.bid <= position.sl:
            return "sl"
        if position.tp and quote.bid >= position.tp:
            return "tp"
    else:
        if position.sl and quote.ask >= position.sl:
            return "sl"
        if position.tp and quote.ask <= position.tp:
            return "tp"
    return ""
