"""Pending orders copied (pure): which orders the follower should have waiting at its broker,
and the actions that get it there.

A provider's pending order ``X`` becomes one follower pending order, with the follower's magic
and a link in its comment that names ``X``. The link is also the key the position it opens will
have, so when it triggers, the position is already linked:

* hedging follower of a hedging provider: ``tw:p<X>:<provider lots>:<follower lots>`` (in MT5 a
  position's identifier is the ticket of the order that opened it, so the provider's position
  will be ``X`` too);
* hedging follower of a netting provider: ``tw:s<SYMBOL>:o<X>:<lots>:<lots>`` (the provider's
  one position per symbol);
* netting follower: ``tw:o<X>`` (its volume is found from its deals, copy/holdings.py).

A hedging follower sizes the copy like a position, once: the lots in the link (left out where
the comment has no room) scale it with the provider's later changes of volume, and a balance
that moves does not cancel and place it again. A netting follower's copy is what filling ``X``
would change in the symbol's target (copy/plan.py), so that when the copy triggers the account
holds what the target then is: with fixed sizing that is often nothing to place.

What happens when the two sides do not trigger together (docs/copying.md):

* **the follower's order triggers first**: its position is held as if the provider's order had
  filled (a stand-in position ``X`` in the plan), so it is neither closed nor opened twice;
* **the provider's order triggers first**: the follower's linked order is cancelled, and the
  position is opened at market only once no linked order is left on the symbol (cancels go
  before opens), so a follower order triggering meanwhile is never joined by a second position;
* **expiry**: the follower's copy carries the same expiration; a provider's order that expired or
  was cancelled disappears from its state, and the follower's copy is cancelled.

A state without ``orders`` (a 1.1 provider) says nothing about pending orders: the follower
leaves its linked orders alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence

import msgspec

from tradewire.copy.mapping import map_symbol
from tradewire.copy.money import risk_volume
from tradewire.copy.reconcile import CopyOrder
from tradewire.copy.rules import CopyRules
from tradewire.copy.sizing import limit, raw_volume, round_to_step
from tradewire.copy.stops import allowed, levels, target_stops
from tradewire.copy.targets import TAG, FollowerView, ProviderState, Skip, link_comment
from tradewire.model import OrderType, PendingOrder, Position, Quote, Side, SymbolSpec

MAX_LINK = 24  # what an MT5 comment leaves for the link (copy/plan.py)
REVERSED: dict[OrderType, OrderType] = {
    "buy_limit": "sell_stop",
    "sell_limit": "buy_stop",
    "buy_stop": "sell_limit",
    "sell_stop": "buy_limit",
}


def order_link(comment: str) -> str | None:
    """The provider order that a follower's pending order (or the position it opened) copies:
    ``X`` in ``tw:o<X>``, ``tw:s<SYMBOL>:o<X>`` or ``tw:p<X>...``; None if the comment names
    none."""
    if not comment.startswith(TAG):
        return None
    first, *rest = comment[len(TAG) :].split(":")
    for part in rest:
        if part.startswith("o") and len(part) > 1:
            return part[1:]
    if first[:1] in ("o", "p") and len(first) > 1:
        return first[1:]
    return None


def stand_ins(state: ProviderState, triggered: Collection[str]) -> list[Position]:
    """Positions as if the provider's pending orders whose follower copies already triggered
    had filled: the follower's copy is held, not closed, while the provider's order waits."""
    if state.orders is None:
        return []
    held = {p.id for p in state.positions}
    return [
        Position(
            o.id, o.symbol, o.side, o.volume, o.stop_limit or o.price, o.time, sl=o.sl, tp=o.tp
        )
        for o in state.orders
        if o.id in triggered and o.id not in held
    ]


def plan_orders(
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    now_ms: int,
    blocked: bool,
    netting_deltas: Mapping[str, float] | None = None,
    only_symbols: Collection[str] = (),
) -> tuple[dict[str, PendingOrder] | None, list[Skip]]:
    """The follower's pending orders, by the provider order each copies (None: leave them
    alone). ``blocked``: no new exposure (close_only, a stale signal, stop_equity).
    ``netting_deltas``: on a netting follower, how much each order, filled, changes its
    symbol's target (copy/plan.py): the size of its copy. ``only_symbols``: when given
    (close_only = "by-symbol"), orders in other follower symbols are not placed."""
    if state.orders is None:
        return None, []
    if not rules.copy_pending or blocked:
        return {}, []
    target: dict[str, PendingOrder] = {}
    skips: list[Skip] = []
    hedging = follower.account.mode == "hedging"
    for order in state.orders:
        if order.id in follower.triggered:
            continue  # the follower's copy is a position now (stand_ins)
        delta = (netting_deltas or {}).get(order.id, 0.0)
        copied, reason = _copy(order, state, follower, rules, now_ms, hedging, delta)
        if copied is not None and only_symbols and copied.symbol not in only_symbols:
            reason = f"close_only by-symbol: no {copied.symbol} is held"
            copied = None
        if copied is None:
            skips.append(Skip(order.symbol, f"pending order {order.id}: {reason}"))
        else:
            target[order.id] = copied
    return target, skips


def _copy(
    order: PendingOrder,
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    now_ms: int,
    hedging: bool,
    netting_delta: float,
) -> tuple[PendingOrder | None, str]:
    if order.expiration and order.expiration <= now_ms:
        return None, f"expired at {order.expiration}"
    symbol, reason = map_symbol(order.symbol, rules)
    if symbol is None:
        return None, reason
    spec = follower.specs.get(symbol)
    if spec is None:
        return None, f"{symbol} is not offered by the follower's broker"
    kind = order.type
    if rules.reverse:
        if kind not in REVERSED:
            return None, f"a reversed {kind} has no MT5 order type: not copied"
        kind = REVERSED[kind]
    if hedging:
        volume, reason = _hedging_volume(order, state, follower, rules, spec)
    else:
        volume, reason = _netting_volume(netting_delta, kind)
    if not volume:
        return None, reason
    if not hedging:
        link = f"{TAG}o{order.id}"  # sized by the target, not by lots to keep
    elif state.account.mode == "hedging":
        link = link_comment(f"p{order.id}", order.volume, volume)
    else:
        link = link_comment(f"s{order.symbol}:o{order.id}", order.volume, volume)
    if len(link) > MAX_LINK:
        return None, f"its link {link!r} does not fit in an MT5 order comment"
    copied = PendingOrder(
        "", symbol, kind, volume, order.price, 0, order.stop_limit,
        expiration=order.expiration, magic=rules.magic, comment=link,
    )  # fmt: skip
    sl, tp = _stops(order, copied, rules, spec)
    return msgspec.structs.replace(copied, sl=sl, tp=tp), ""


def _hedging_volume(
    order: PendingOrder,
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    spec: SymbolSpec,
) -> tuple[float, str]:
    sized = _sized_copy(follower.orders, order.id) if rules.sizing != "fixed" else None
    if sized is not None:  # sized when placed: it follows the provider's volume in proportion
        raw = sized[1] * order.volume / sized[0]
    elif rules.sizing == "risk":
        assert rules.risk_percent is not None
        entry = order.stop_limit or order.price
        side: Side = order.side
        if rules.reverse:
            side = "sell" if side == "buy" else "buy"
        stops = target_stops([_as_position(order, entry)], rules, spec)
        risked = risk_volume(
            order.symbol, spec, stops, side, entry, follower, rules, rules.risk_percent
        )
        if risked.reason:
            return 0.0, risked.reason
        raw = risked.lots
    else:
        raw = raw_volume(order.volume, state.account, follower.account, rules)
    return limit(round_to_step(raw, spec), spec, rules)


def _as_position(order: PendingOrder, entry: float) -> Position:
    """The position ``order`` opens when it fills at ``entry``."""
    return Position(order.id, order.symbol, order.side, order.volume, entry, 0, order.sl, order.tp)


def _netting_volume(delta: float, kind: OrderType) -> tuple[float, str]:
    if abs(delta) < 1e-9:
        return (
            0.0,
            "filling it would not change what this netting account should hold: nothing to place",
        )
    if (delta > 0) != kind.startswith("buy"):
        return 0.0, f"filling it would move this netting account the other way ({delta:+g})"
    return round(abs(delta), 8), ""


def _sized_copy(ours: Sequence[PendingOrder], provider_order: str) -> tuple[float, float] | None:
    """The provider's and the follower's lots when the follower's copy of ``provider_order``
    was placed, from its link (``...:<provider lots>:<follower lots>``): a copy is sized once,
    like a position, not again whenever the balance moves (which would cancel and place it
    again and again)."""
    for mine in ours:
        if order_link(mine.comment) != provider_order:
            continue
        parts = mine.comment.split(":")
        if len(parts) < 4:
            continue  # no room was left for the lots
        with contextlib.suppress(ValueError):
            provider_lots, follower_lots = float(parts[-2]), float(parts[-1])
            if provider_lots > 0 and follower_lots > 0:
                return provider_lots, follower_lots
    return None


def _stops(
    order: PendingOrder, copied: PendingOrder, rules: CopyRules, spec: SymbolSpec
) -> tuple[float, float]:
    """The copy's stops, by the same rules as a position's, measured from its entry price."""
    stops = target_stops([_as_position(order, order.stop_limit or order.price)], rules, spec)
    own_entry = copied.stop_limit or copied.price
    sl, tp = levels(stops, copied.side, own_entry, spec)
    at_entry = Quote(copied.symbol, own_entry, own_entry, 0)
    sl, tp, _ = allowed(
        copied.side, 0.0 if stops.keep_sl else sl, 0.0 if stops.keep_tp else tp, at_entry, spec
    )
    return sl, tp


def reconcile_orders(
    target: Mapping[str, PendingOrder] | None,
    ours: Sequence[PendingOrder],
    specs: Mapping[str, SymbolSpec | None],
) -> list[CopyOrder]:
    """Cancels, moves and placements that turn the follower's linked pending orders (``ours``:
    those with its magic) into ``target``. Cancels come first."""
    if target is None:
        return []
    actions: list[CopyOrder] = []
    seen: set[str] = set()
    for mine in ours:
        link = order_link(mine.comment)
        want = target.get(link) if link is not None else None
        if (
            link is None
            or want is None
            or link in seen
            or mine.type != want.type
            or abs(mine.volume - want.volume) > 1e-9
        ):
            actions.append(_action("cancel", link or mine.id, mine))  # replaced next round
            continue
        seen.add(link)
        moved = msgspec.structs.replace(want, id=mine.id)
        if _differs(mine, moved, specs.get(mine.symbol)):
            actions.append(_action("move", link, moved))
    for link, want in target.items():
        if link not in seen and not any(a.key == f"o{link}" for a in actions):
            actions.append(_action("place", link, want))
    order = {"cancel": 0, "move": 1, "place": 2}
    return sorted(actions, key=lambda a: order[a.action])


def _action(action: str, link: str, order: PendingOrder) -> CopyOrder:
    return CopyOrder(
        f"o{link}", action, order.symbol, order.side, order.volume,  # type: ignore[arg-type]
        magic=order.magic, comment=order.comment, sl=order.sl, tp=order.tp, pending=order,
    )  # fmt: skip


def _differs(a: PendingOrder, b: PendingOrder, spec: SymbolSpec | None) -> bool:
    point = spec.point if spec is not None else 1e-5
    prices = ((a.price, b.price), (a.stop_limit, b.stop_limit), (a.sl, b.sl), (a.tp, b.tp))
    # MT5 keeps expirations in whole seconds (rounded up): a second apart is the same one
    return any(abs(x - y) >= point / 2 for x, y in prices) or (
        abs(a.expiration - b.expiration) >= 1000
    )
