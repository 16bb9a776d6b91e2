"""Copy quality (pure): the provider's price for the change a follower's fill copies, and the
slippage against it (docs/copying.md).

A target's ``ref_price`` is the provider's average entry of everything on the copied side. That
is the price of an *open*. For an *increase* it is not: the provider's newer volume came at
another price, and the average hides it (a netting follower of a hedging provider showed -42
points at 2 ms). The price of the change is what the average implies: the provider went from
``v1`` lots at ``p1`` to ``v2`` at ``p2``, so the ``v2 - v1`` it added came at
``(v2 * p2 - v1 * p1) / (v2 - v1)``. Where the provider's side did not grow (it closed the
other side of a hedge), nothing says at what price it changed, and no slippage is reported.
"""

from __future__ import annotations

from tradewire.copy.targets import TargetPosition

# side, provider volume, provider average price, follower volume: a target the follower held
Reached = tuple[str, float, float, float]


def reached(target: TargetPosition) -> Reached:
    """What to remember of a target the follower holds, for its next increase."""
    return target.side, target.ref_volume, target.ref_price, target.volume


def change_price(action: str, before: Reached | None, target: TargetPosition) -> float | None:
    """The provider's price for the change that ``action`` (open, increase, reverse) copies;
    ``before``: the target the follower last held on this key."""
    if action != "increase":
        return target.ref_price  # opened (or turned) at the provider's entry
    if before is None or before[0] != target.side:
        return None
    _, v1, p1, _ = before
    v2, p2 = target.ref_volume, target.ref_price
    if v2 <= v1 + 1e-9:
        return None  # the provider's side did not grow: the change has no price here
    return (v2 * p2 - v1 * p1) / (v2 - v1)


def slippage_points(side: str, fill_price: float, reference: float, point: float) -> float:
    """Points the fill is worse (positive) or better (negative) than ``reference``."""
    worse = fill_price - reference if side == "buy" else reference - fill_price
    return round(worse / point, 1)
