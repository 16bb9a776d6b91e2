"""Stop-loss and take-profit of copied positions (pure): which levels, and where the broker
allows them.

The stops live at the follower's broker, so they hold when the provider, the hub and the follower
are all gone. Rules (docs/copying.md):

* ``copy_sl`` / ``copy_tp``: ``"yes"`` copies the provider's, ``"no"`` never sets or changes
  one, ``"fixed"`` puts it ``fixed_sl_points`` / ``fixed_tp_points`` from the follower's own
  fill price.
* ``sl_tp_mode``: ``"price"`` copies the provider's levels; ``"distance"`` keeps the provider's
  distance from its entry, measured from the follower's own entry (brokers whose prices differ).
* ``reverse``: the follower's stop-loss comes from the provider's take-profit and the other way
  round (a reversed buy's take-profit, above its entry, is a sell's stop-loss).
* On a netting follower a symbol is one position: its stops are those of the provider's newest
  position on the side being copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from tradewire.copy.rules import CopyRules
from tradewire.model import Position, Quote, Side, SymbolSpec


class Stops(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a target's stops should be. A level is absolute (``sl``/``tp``), or a distance in
    price from the follower's own entry (``sl_distance``/``tp_distance``); 0 is none.
    ``keep_sl``/``keep_tp``: the rules say never to touch it (``copy_* = "no"``)."""

    sl: float = 0.0
    tp: float = 0.0
    sl_distance: float = 0.0
    tp_distance: float = 0.0
    keep_sl: bool = False
    keep_tp: bool = False


def _valid(level: float) -> bool:
    """0 (no stop) or a price."""
    return math.isfinite(level) and level >= 0


def target_stops(members: Sequence[Position], rules: CopyRules, spec: SymbolSpec) -> Stops:
    """The stops of a target made of the provider's ``members`` (its positions on the side it
    holds). A level that is not a price (NaN, negative) changes nothing: the follower keeps the
    stop it has rather than lose it to a crafted state."""
    source = max(members, key=lambda p: (p.time, p.id)) if members else None
    sl = source.sl if source is not None else 0.0
    tp = source.tp if source is not None else 0.0
    entry = source.price if source is not None else 0.0
    if rules.reverse:
        sl, tp = tp, sl  # roles swap with the direction
    sl_level, sl_distance, keep_sl = (
        _one(rules.copy_sl, sl, entry, rules.fixed_sl_points, rules, spec)
        if _valid(sl)
        else (0.0, 0.0, True)
    )
    tp_level, tp_distance, keep_tp = (
        _one(rules.copy_tp, tp, entry, rules.fixed_tp_points, rules, spec)
        if _valid(tp)
        else (0.0, 0.0, True)
    )
    return Stops(sl_level, tp_level, sl_distance, tp_distance, keep_sl, keep_tp)


def _one(
    rule: str,
    level: float,
    entry: float,
    fixed_points: float | None,
    rules: CopyRules,
    spec: SymbolSpec,
) -> tuple[float, float, bool]:
    """(absolute level, distance from the follower's entry, keep what is there)."""
    if rule == "no":
        return 0.0, 0.0, True
    if rule == "fixed":
        return 0.0, (fixed_points or 0.0) * spec.point, False
    if not level:
        return 0.0, 0.0, False
    if rules.sl_tp_mode == "distance":
        return 0.0, abs(entry - level), False
    return level, 0.0, False


def levels(stops: Stops, side: Side, entry: float, spec: SymbolSpec) -> tuple[float, float]:
    """Absolute (sl, tp) for a position of ``side`` entered at ``entry``."""
    sign = 1.0 if side == "buy" else -1.0
    sl = entry - sign * stops.sl_distance if stops.sl_distance else stops.sl
    tp = entry + sign * stops.tp_distance if stops.tp_distance else stops.tp
    return _round(sl, spec), _round(tp, spec)


def _round(level: float, spec: SymbolSpec) -> float:
    return round(level, spec.digits) if level > 0 else 0.0


def allowed(
    side: Side, sl: float, tp: float, quote: Quote | None, spec: SymbolSpec
) -> tuple[float, float, str]:
    """(sl, tp) moved where the broker accepts them, and a note when one moved.

    MT5 checks a buy's stops against the bid and a sell's against the ask: each must be at least
    the symbol's stops level (points) away, on its own side (a buy's stop-loss below). A level
    the market has already passed moves to the nearest allowed one, so the position is
    protected at once rather than refused and left bare."""
    if quote is None:
        return sl, tp, ""
    gap = spec.stops_level * spec.point
    price = quote.bid if side == "buy" else quote.ask
    sign = 1.0 if side == "buy" else -1.0
    notes = []
    if sl and sign * (price - sl) < gap - spec.point / 2:
        moved = _round(price - sign * gap, spec)
        notes.append(f"stop-loss {sl:g} moved to {moved:g} (stops level {spec.stops_level})")
        sl = moved
    if tp and sign * (tp - price) < gap - spec.point / 2:
        moved = _round(price + sign * gap, spec)
        notes.append(f"take-profit {tp:g} moved to {moved:g} (stops level {spec.stops_level})")
        tp = moved
    return sl, tp, "; ".join(notes)


def differs(a: float, b: float, spec: SymbolSpec | None) -> bool:
    """True when two levels differ by half a point or more."""
    point = spec.point if spec is not None else 1e-5
    return abs(a - b) >= point / 2
