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
from tradewire.model import PendingOrder, Position, Quote, Side, SymbolSpec


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


def check_pending(order: PendingOrder, quote: Quote, spec: SymbolSpec, now_ms: int) -> None:
    """Raise ``OrderRejected`` unless ``order`` may be placed now (MT5's rules: a limit below
    the market to buy, above to sell; a stop the other way; each at least the stops level from
    the price it waits for; its stops checked from its own price; an expiration ahead)."""
    gap = spec.stops_level * spec.point - spec.point / 2
    buy = order.side == "buy"
    market = quote.ask if buy else quote.bid
    limit = order.type.endswith("_limit") and not order.type.endswith("stop_limit")
    # how far the order's price is on its allowed side of the market
    ahead = (market - order.price) if (buy == limit) else (order.price - market)
    if not (math.isfinite(order.price) and order.price > 0) or ahead < gap:
        raise OrderRejected(
            "invalid_price",
            f"{order.type} at {order.price} is too close to or on the wrong side of the market "
            f"{market} (stops level {spec.stops_level})",
            retryable=True,
        )
    if order.type.endswith("stop_limit"):
        below = order.stop_limit <= order.price if buy else order.stop_limit >= order.price
        if not order.stop_limit or not below:
            raise OrderRejected(
                "invalid_price",
                f"{order.type}: its limit {order.stop_limit} must be "
                f"{'at or below' if buy else 'at or above'} its stop {order.price}",
            )
    entry = order.stop_limit if order.type.endswith("stop_limit") else order.price
    at_entry = Quote(order.symbol, entry, entry, quote.time_ms)
    check_stops(order.side, order.sl, order.tp, at_entry, spec)
    if order.expiration and order.expiration <= now_ms:
        raise OrderRejected(
            "invalid_expiration", f"expiration {order.expiration} is not in the future"
        )


def pending_triggered(order: PendingOrder, quote: Quote) -> bool:
    """True when ``quote`` reaches the price ``order`` waits for."""
    if order.type in ("buy_limit", "sell_stop", "sell_stop_limit"):
        watched = quote.ask if order.type == "buy_limit" else quote.bid
        return watched <= order.price
    watched = quote.bid if order.type == "sell_limit" else quote.ask
    return watched >= order.price
