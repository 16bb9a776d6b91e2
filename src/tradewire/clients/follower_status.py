"""A follower's status as ``tradewire follow --status`` and the live view show it: every
target against what is held, volumes, stops and pending orders alike, and why anything is
stopped (JSON-ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from tradewire.copy.pending import order_link
from tradewire.copy.stops import levels
from tradewire.copy.targets import FollowerView, Plan, key_of

if TYPE_CHECKING:
    from tradewire.clients.follower import Follower


def status_of(follower: Follower) -> dict[str, Any]:
    plan = follower.last_plan
    target = plan.target if plan else {}
    view = follower.last_view
    account = view.account if view is not None else None
    return {
        "channel": follower.channel,
        "in_sync": follower.in_sync(),
        # the account as last read: floating P/L is equity less balance
        "account": msgspec.to_builtins(account) if account is not None else None,
        "seq": follower.state.seq if follower.state else None,
        "target": {k: msgspec.to_builtins(t) for k, t in target.items()},
        "explain": follower.explain(),
        "held": {k: {"symbol": s, "volume": v} for k, (s, v) in follower.held.items()},
        # netting: the whole position per symbol, and the part that is not the follower's
        "holdings": {
            s: {"net": h.net, "own": h.own, "foreign": h.foreign, "settled": h.settled}
            for s, h in follower.holdings.items()
        },
        "stops": _stops(plan, follower.last_view, follower.rules.magic),
        "orders": _orders(plan, follower.last_view),
        "breakers": dict(follower.breaker.tripped),
        "magic": follower.rules.magic,
        "pending": [msgspec.to_builtins(o) for o in follower.pending_orders],
        "stopped": bool(plan and plan.stopped),
        "recent": list(follower.journal.recent)[-20:],
    }


def _stops(plan: Plan | None, view: FollowerView | None, magic: int) -> dict[str, Any]:
    """Per held position: the stops its target wants (at its own entry) and those it has."""
    if plan is None or view is None:
        return {}
    out: dict[str, Any] = {}
    mode = view.account.mode
    for pos in view.positions:
        key = key_of(pos, mode)
        want = plan.target.get(key)
        spec = view.specs.get(pos.symbol)
        if want is None or spec is None or (mode == "hedging" and pos.magic != magic):
            continue
        sl, tp = levels(want.stops, pos.side, pos.price, spec)
        out[key] = {
            "position": pos.id,
            "target_sl": pos.sl if want.stops.keep_sl else sl,
            "target_tp": pos.tp if want.stops.keep_tp else tp,
            "sl": pos.sl,
            "tp": pos.tp,
        }
    return out


def _orders(plan: Plan | None, view: FollowerView | None) -> dict[str, Any]:
    """Pending orders: those the provider's want at the follower, and those it has."""
    wanted = plan.orders if plan is not None else None
    held = view.orders if view is not None else []
    return {
        "target": None
        if wanted is None
        else {k: msgspec.to_builtins(o) for k, o in wanted.items()},
        "held": {order_link(o.comment) or o.id: msgspec.to_builtins(o) for o in held},
    }
