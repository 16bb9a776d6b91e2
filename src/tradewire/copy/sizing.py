"""Volume sizing and rounding to a symbol's volume step."""

from __future__ import annotations

import math

from tradewire.copy.rules import CopyRules
from tradewire.model import Account, SymbolSpec


def raw_volume(
    provider_volume: float, provider: Account, follower: Account, rules: CopyRules
) -> float:
    """The follower volume before rounding and limits (``provider_volume`` > 0)."""
    if rules.sizing == "fixed":
        assert rules.fixed_volume is not None  # parse_rules insists on it
        return rules.fixed_volume
    if rules.sizing == "balance":
        ratio = follower.balance / provider.balance if provider.balance > 0 else 0.0
        return provider_volume * ratio * rules.multiplier
    if rules.sizing == "equity":
        ratio = follower.equity / provider.equity if provider.equity > 0 else 0.0
        return provider_volume * ratio * rules.multiplier
    return provider_volume * rules.multiplier


def round_to_step(volume: float, spec: SymbolSpec) -> float:
    """Nearest multiple of the volume step (ties round down: never more than asked)."""
    steps = math.ceil(volume / spec.volume_step - 0.5 - 1e-9)
    return round(max(steps, 0) * spec.volume_step, 8)


def floor_to_step(volume: float, spec: SymbolSpec) -> float:
    """Largest multiple of the volume step not above ``volume``."""
    return round(math.floor(volume / spec.volume_step + 1e-9) * spec.volume_step, 8)


def limit(volume: float, spec: SymbolSpec, rules: CopyRules) -> tuple[float, str]:
    """Apply min/max rules to a rounded volume: ``(volume, "")`` or ``(0.0, reason)``."""
    if rules.max_volume is not None and volume > rules.max_volume:
        volume = floor_to_step(rules.max_volume, spec)
    minimum = max(rules.min_volume, spec.volume_min)
    if volume < minimum - 1e-9:
        return 0.0, f"volume {volume:g} below the minimum {minimum:g}"
    return volume, ""
