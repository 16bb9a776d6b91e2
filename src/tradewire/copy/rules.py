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
Percent = Annotated[float, msgspec.Meta(gt=0, le=100)]

DEFAULT_MAGIC = 7_400_001  # marks the positions tradewire manages on a follower account


class CopyRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # sizing
    sizing: Literal["multiplier", "fixed", "balance", "equity", "risk"] = "multiplier"
    multiplier: Factor = 1.0
    fixed_volume: Lots | None = None  # required with sizing = "fixed"
    min_volume: NonNegativeLots = 0.0  # sized volumes below this are not copied
    max_volume: Lots | None = None  # per position
    max_total_volume: Lots | None = None  # per symbol, all copied positions together
    # sizing by money (copy/money.py): a loss at the copy's stop-loss costs risk_percent of
    # the account's risk_basis; max_trade_risk caps any sizing so; default_sl_points stands in
    # for a missing stop-loss when measuring risk
    risk_percent: Percent | None = None  # required with sizing = "risk"
    risk_basis: Literal["balance", "equity"] = "equity"
    max_trade_risk: Percent | None = None
    default_sl_points: Annotated[float, msgspec.Meta(gt=0, le=1e7)] | None = None
    max_leverage: Annotated[float, msgspec.Meta(gt=0, le=10_000)] | None = None  # × equity
    min_trade_amount: Amount | None = None  # a new copy's notional, in the account's currency
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
    # no new exposure: true or "by-position"; "by-symbol" still opens in symbols it holds;
    # "immediately" closes everything copied (CopyFactory's three modes)
    close_only: bool | Literal["by-position", "by-symbol", "immediately"] = False
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
        self._check_risk()
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

    def _check_risk(self) -> None:
        if self.sizing == "risk" and self.risk_percent is None:
            raise ValueError('sizing = "risk" needs risk_percent (of the account, per copy)')
        if self.sizing != "risk" and self.risk_percent is not None:
            raise ValueError(
                'risk_percent is only used with sizing = "risk" (to cap another sizing by '
                "risk, set max_trade_risk)"
            )
        measures = self.sizing == "risk" or self.max_trade_risk is not None
        if measures and self.copy_sl == "no" and self.default_sl_points is None:
            raise ValueError(
                'copy_sl = "no" leaves copies without a stop-loss, so their risk cannot be '
                "measured: set default_sl_points or copy the stop-loss"
            )
        if (
            self.risk_percent is not None
            and self.max_trade_risk is not None
            and self.risk_percent > self.max_trade_risk
        ):
            raise ValueError(
                f"risk_percent {self.risk_percent:g} is above max_trade_risk "
                f"{self.max_trade_risk:g}: every copy would be cut back; lower one of them"
            )

    @property
    def close_mode(self) -> str:
        """``close_only`` as one of "", "by-position", "by-symbol", "immediately"."""
        if self.close_only is True:
            return "by-position"
        return self.close_only or ""

    @property
    def needs_rates(self) -> bool:
        """Whether planning values positions in the account's currency (copy/money.py)."""
        return self.sizing == "risk" or any(
            v is not None for v in (self.max_trade_risk, self.max_leverage, self.min_trade_amount)
        )


def parse_rules(data: dict[str, object], source: str = "rules") -> CopyRules:
    """Validate rules from TOML or flags; raises ConfigError naming the bad key."""
    rules = parse_section(data, CopyRules, source, docs="docs/copying.md")
    for src, dst in rules.symbol_map.items():
        if not (is_symbol(src) and is_symbol(dst)):
            raise ConfigError(f"{source}: symbol_map: {src}={dst} is not a pair of symbols")
    for affix in ("strip_prefix", "strip_suffix", "prefix", "suffix"):
        value = getattr(rules, affix)
        if value and not is_symbol(value):
            raise ConfigError(f"{source}: {affix}: {value!r} has characters symbols cannot have")
    return rules
