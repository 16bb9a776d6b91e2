"""A follower's copy rules (docs/copying.md describes each one exactly)."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from tradewire.config import parse_section
from tradewire.copy.risk import RiskLimit
from tradewire.exceptions import ConfigError
from tradewire.protocol.names import is_symbol

# Upper bounds keep every value finite: inf (or 1e400 in TOML, which reads as inf) is refused
# here rather than overflowing in the sizing arithmetic.
Factor = Annotated[float, msgspec.Meta(gt=0, le=1000)]
Lots = Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
NonNegativeLots = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
Amount = Annotated[float, msgspec.Meta(ge=0, le=1e15)]

DEFAULT_MAGIC = 7_400_001  # marks the positions tradewire manages on a follower account


class CopyRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # sizing
    sizing: Literal["multiplier", "fixed", "balance", "equity"] = "multiplier"
    multiplier: Factor = 1.0
    fixed_volume: Lots | None = None  # required with sizing = "fixed"
    min_volume: NonNegativeLots = 0.0  # sized volumes below this are not copied
    max_volume: Lots | None = None  # per position
    max_total_volume: Lots | None = None  # per symbol, all copied positions together
    # direction and symbols
    reverse: bool = False
    symbol_map: dict[str, str] = {}  # provider symbol -> follower symbol, checked first
    strip_prefix: str = ""  # removed from provider symbols before prefix/suffix are added
    strip_suffix: str = ""
    prefix: str = ""
    suffix: str = ""  # e.g. ".m" maps EURUSD to EURUSD.m
    include: list[str] = []  # provider symbols or fnmatch patterns; empty means all
    exclude: list[str] = []
    # stop-loss and take-profit, held at the follower's broker (copy/stops.py)
    copy_sl: Literal["yes", "no", "fixed"] = "yes"
    copy_tp: Literal["yes", "no", "fixed"] = "yes"
    fixed_sl_points: Annotated[float, msgspec.Meta(gt=0, le=1e7)] | None = None
    fixed_tp_points: Annotated[float, msgspec.Meta(gt=0, le=1e7)] | None = None
    sl_tp_mode: Literal["price", "distance"] = "price"
    # pending orders placed at the follower's broker (false: their positions copied at market)
    copy_pending: bool = True
    # guards
    max_deviation_points: Amount | None = None
    # A state older than this may only reduce exposure (0: no limit, at your own risk).
    max_signal_age_s: Annotated[float, msgspec.Meta(ge=0, le=365 * 86_400)] = 60.0
    stop_equity: Amount | None = None
    close_only: bool = False
    # drawdown limits per day, week, month or lifetime (copy/risk.py), in a rules file as
    # [[risk_limit]] tables; their periods begin at midnight in this IANA time zone
    risk_limit: list[RiskLimit] = []
    timezone: str = "UTC"
    magic: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = DEFAULT_MAGIC

    def __post_init__(self) -> None:
        """Rules that could never be satisfied are refused at start (ValueError; from TOML or
        flags a ConfigError naming the keys)."""
        if self.sizing == "fixed" and self.fixed_volume is None:
            raise ValueError('sizing = "fixed" needs fixed_volume (lots)')
        for stop in ("sl", "tp"):
            if (
                getattr(self, f"copy_{stop}") == "fixed"
                and getattr(self, f"fixed_{stop}_points") is None
            ):
                raise ValueError(f'copy_{stop} = "fixed" needs fixed_{stop}_points (points)')
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone (e.g. Europe/London)"
            ) from None
        kinds = [(r.period, r.basis, r.action) for r in self.risk_limit]
        for period, basis, action in sorted({k for k in kinds if kinds.count(k) > 1}):
            raise ValueError(
                f"two risk_limit tables {action} on the {period} {basis} drawdown: which "
                "percent applies? Keep one"
            )
        for cap in ("max_volume", "max_total_volume"):
            limit = getattr(self, cap)
            if limit is not None and self.min_volume > limit:
                raise ValueError(
                    f"min_volume {self.min_volume:g} is above {cap} {limit:g}, "
                    "so nothing could ever be copied"
                )


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
