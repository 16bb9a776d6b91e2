"""Why a target is what it is, in words and numbers (pure): ``tradewire follow --explain``,
``--status`` and the engine's status print it, e.g.

    +0.35 = 0.14 × 25,000.00 / 10,000.00 × 1 (balance) = 0.35 → step 0.01 → 0.35

Only written when asked (``plan(..., notes=)``): the copy engine plans a thousand accounts a
round, and text nobody reads would cost it.
"""

from __future__ import annotations

from tradewire.copy.rules import CopyRules
from tradewire.copy.targets import Link
from tradewire.model import Account, SymbolSpec


def sizing(net: float, provider: Account, follower: Account, rules: CopyRules) -> str:
    """How ``raw_volume`` (copy/sizing.py) sized the provider's ``net`` lots."""
    if rules.sizing == "fixed":
        return f"fixed_volume {rules.fixed_volume:g} (fixed)"
    if rules.sizing in ("balance", "equity"):
        mine = follower.balance if rules.sizing == "balance" else follower.equity
        theirs = provider.balance if rules.sizing == "balance" else provider.equity
        return f"{net:g} × {mine:,.2f} / {theirs:,.2f} × {rules.multiplier:g} ({rules.sizing})"
    return f"{net:g} × {rules.multiplier:g} (multiplier)"


def linked(net: float, link: Link) -> str:
    """A hedging position sized when it opened, following the provider in proportion since."""
    assert link.provider_volume and link.follower_volume
    return (
        f"{link.follower_volume:g} × {net:g} / {link.provider_volume:g} (sized when it opened: "
        f"the provider's {link.provider_volume:g} lots were {link.follower_volume:g})"
    )


def volume(
    formula: str,
    raw: float,
    rounded: float,
    limited: float,
    spec: SymbolSpec,
    rules: CopyRules,
) -> str:
    """The formula, its value, the volume step and the min/max rules, in order."""
    text = f"{formula} = {raw:.6g} → step {spec.volume_step:g} → {rounded:g}"
    if rules.max_volume is not None and rounded > rules.max_volume:
        text += f" → max_volume {rules.max_volume:g} → {limited:g}"
    return text


def total_cap(text: str, rules: CopyRules, room: float, volume: float) -> str:
    return f"{text} → max_total_volume {rules.max_total_volume:g} leaves {room:g} → {volume:g}"


def final(side: str, volume: float, text: str, reversed_: bool) -> str:
    signed = volume if side == "buy" else -volume
    return f"{signed:+g} = {text}" + (" (reversed)" if reversed_ else "")
