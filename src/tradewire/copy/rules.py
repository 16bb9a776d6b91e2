"""A follower's copy rules (docs/copying.md describes each one exactly)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tradewire.config import parse_section
from tradewire.exceptions import ConfigError
from tradewire.protocol.names import is_symbol

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]

DEFAULT_MAGIC = 7_400_001  # marks the positions tradewire manages on a follower account


class CopyRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # sizing
    sizing: Literal["multiplier", "fixed", "balance", "equity"] = "multiplier"
    multiplier: Positive = 1.0
    fixed_volume: Positive = 0.1
    min_volume: NonNegative = 0.0  # sized volumes below this are not copied
    max_volume: Positive | None = None  # per position
    max_total_volume: Positive | None = None  # per symbol, all copied positions together
    # direction and symbols
    reverse: bool = False
    symbol_map: dict[str, str] = {}  # provider symbol -> follower symbol, checked first
    strip_prefix: str = ""  # removed from provider symbols before prefix/suffix are added
    strip_suffix: str = ""
    prefix: str = ""
    suffix: str = ""  # e.g. ".m" maps EURUSD to EURUSD.m
    include: list[str] = []  # provider symbols or fnmatch patterns; empty means all
    exclude: list[str] = []
    # guards
    max_deviation_points: NonNegative | None = None
    # A state older than this may only reduce exposure (0: no limit, at your own risk).
    max_signal_age_s: NonNegative = 60.0
    stop_equity: NonNegative | None = None
    close_only: bool = False
    magic: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = DEFAULT_MAGIC


def parse_rules(data: dict[str, object], source: str = "rules") -> CopyRules:
    """Validate rules from TOML or flags; raises ConfigError naming the bad key."""
    rules = parse_section(data, CopyRules, source)
    for src, dst in rules.symbol_map.items():
        if not (is_symbol(src) and is_symbol(dst)):
            raise ConfigError(f"{source}: symbol_map: {src}={dst} is not a pair of symbols")
    for affix in ("strip_prefix", "strip_suffix", "prefix", "suffix"):
        value = getattr(rules, affix)
        if value and not is_symbol(value):
            raise ConfigError(f"{source}: {affix}: {value!r} has characters symbols cannot have")
    return rules
