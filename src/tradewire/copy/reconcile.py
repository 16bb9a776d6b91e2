"""``reconcile``: the market orders that move the follower's managed positions to the target.

Always computed from the broker's actual positions, never from what was sent, so running it
again after any disconnect, restart or rejection asks only for what is still missing. Orders
that reduce exposure come first (they free margin); each order respects the symbol's maximum
volume, so a large change may take several rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from tradewire.copy.sizing import round_to_step
from tradewire.copy.stops import allowed, levels
from tradewire.copy.targets import TAG, TargetPosition, key_of
from tradewire.model import Mode, PendingOrder, Position, Quote, Side, SymbolSpec

# "modify": a position's stops; "place", "move", "cancel": a pending order (copy/pending.py)
Action = Literal[
    "open", "increase", "reduce", "close", "reverse", "modify", "place", "move", "cancel"
]


class CopyOrder(msgspec.Struct, frozen=True):
    key: str
    action: Action
    symbol: str
    side: Side
    volume: float
    position_id: str | None = None
    comment: str = ""
    magic: int = 0
    sl: float = 0.0  # opening orders: the new position's stops; "modify": the new levels
    tp: float = 0.0
    note: str = ""  # why a level is not the target's (moved to the broker's stops level)
    pending: PendingOrder | None = None  # place/move/cancel: the order (its id: move, cancel)


def _opposite(side: Side) -> Side:
    return "sell" if side == "buy" else "buy"


def reconcile(
    target: dict[str, TargetPosition],
    actual: list[Position],
    mode: Mode,
    specs: dict[str, SymbolSpec | None],
    magic: int,
    own: Mapping[str, float] | None = None,
    quotes: Mapping[str, Quote] | None = None,
) -> list[CopyOrder]:
    """Orders that turn ``actual`` (the managed positions) into ``target``.

    ``own``: on a netting account, the follower's own signed volume per symbol (from its
    deals, copy/holdings.py), which is what it moves; without it, the managed positions'.
    Every order that opens a position carries the target's stops, placed from ``quotes``
    (the price it should fill at) where they are measured from the follower's entry."""
    if own is None and mode == "netting":
        own = {}
        for p in actual:
            own[p.symbol] = own.get(p.symbol, 0.0) + _signed(p.side, p.volume)
    orders = (
        _netting(target, own or {}, specs, magic)
        if mode == "netting"
        else _hedging(target, actual, specs, magic)
    )
    opening = ("open", "reverse") if mode == "netting" else ("open", "increase")
    for i, order in enumerate(orders):
        want = target.get(order.key)
        if order.action in opening and want is not None:
            sl, tp, note = entry_stops(
                want, (quotes or {}).get(want.symbol), specs.get(want.symbol)
            )
            if sl or tp or note:
                orders[i] = msgspec.structs.replace(order, sl=sl, tp=tp, note=note)
    return sorted(orders, key=lambda o: o.action in ("open", "increase", "reverse"))


def _signed(side: Side, volume: float) -> float:
    return volume if side == "buy" else -volume


def _capped(volume: float, spec: SymbolSpec | None) -> float:
    return min(volume, spec.volume_max) if spec is not None else volume


def _netting(
    target: dict[str, TargetPosition],
    held: Mapping[str, float],
    specs: dict[str, SymbolSpec | None],
    magic: int,
) -> list[CopyOrder]:
    wanted = {t.symbol: _signed(t.side, t.volume) for t in target.values()}
    orders = []
    for symbol in sorted(held.keys() | wanted.keys()):
        have, want = held.get(symbol, 0.0), wanted.get(symbol, 0.0)
        spec = specs.get(symbol)
        delta = want - have
        step = spec.volume_step if spec else 0.01
        if abs(delta) < step / 2:
            continue
        # Closing takes exactly what is held; other moves are whole volume steps.
        if abs(want) < 1e-9:
            volume = round(abs(have), 8)
        else:
            volume = round_to_step(abs(delta), spec) if spec else round(abs(delta), 8)
        side: Side = "buy" if delta > 0 else "sell"
        if abs(have) < 1e-9:
            action: Action = "open"
        elif want * have < 0:
            action = "reverse"
        elif abs(want) < 1e-9:
            action = "close"
        else:
            action = "increase" if abs(want) > abs(have) else "reduce"
        orders.append(
            CopyOrder(
                symbol,
                action,
                symbol,
                side,
                _capped(volume, spec),
                comment=TAG.rstrip(":"),
                magic=magic,
            )
        )
    return orders


def _hedging(
    target: dict[str, TargetPosition],
    actual: list[Position],
    specs: dict[str, SymbolSpec | None],
    magic: int,
) -> list[CopyOrder]:
    by_key: dict[str, list[Position]] = {}
    for p in actual:
        by_key.setdefault(key_of(p, "hedging"), []).append(p)
    orders: list[CopyOrder] = []
    for key in sorted(by_key.keys() | target.keys()):
        want = target.get(key)
        held = by_key.get(key, [])
        right = []
        for p in held:
            if want is None or p.side != want.side or p.symbol != want.symbol:
                orders.append(
                    CopyOrder(
                        key, "close", p.symbol, _opposite(p.side), p.volume, p.id, magic=magic
                    )
                )
            else:
                right.append(p)
        if want is None:
            continue
        spec = specs.get(want.symbol)
        step = spec.volume_step if spec else 0.01
        total = round(sum(p.volume for p in right), 8)
        if want.volume - total >= step / 2:
            volume = round_to_step(want.volume - total, spec) if spec else want.volume - total
            orders.append(
                CopyOrder(
                    key,
                    "increase" if right else "open",
                    want.symbol,
                    want.side,
                    _capped(volume, spec),
                    comment=want.comment or f"{TAG}{key}",
                    magic=magic,
                )
            )
        excess = round(total - want.volume, 8)
        for p in sorted(right, key=lambda p: (p.time, p.id), reverse=True):
            if excess < step / 2:
                break
            cut = min(p.volume, excess)
            orders.append(
                CopyOrder(
                    key,
                    "close" if cut >= p.volume else "reduce",
                    p.symbol,
                    _opposite(p.side),
                    round(cut, 8),
                    p.id,
                    magic=magic,
                )
            )
            excess = round(excess - cut, 8)
    return orders


def entry_stops(
    target: TargetPosition, quote: Quote | None, spec: SymbolSpec | None
) -> tuple[float, float, str]:
    """(sl, tp, note) for an order opening a position for ``target`` now."""
    stops = target.stops
    if spec is None:
        return stops.sl, stops.tp, ""
    entry = target.ref_price
    if quote is not None:
        entry = quote.ask if target.side == "buy" else quote.bid
    sl, tp = levels(stops, target.side, entry, spec)
    return allowed(
        target.side,
        0.0 if stops.keep_sl else sl,
        0.0 if stops.keep_tp else tp,
        quote,
        spec,
    )
