"""A channel's history and statistics (issue 27): what a follower reads before following, and
an operator after. ``channel_stats`` asks for a channel's figures over a period; the hub answers
with :class:`ChannelStats` (docs/statistics.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from tradewire.model import Deal, Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId
from tradewire.protocol.names import is_channel, is_finite, is_symbol

MAX_DEALS_PER_FRAME = 500


class PutDeals(Frame, frozen=True, tag="deals"):
    """Protocol 1.5: a provider's deals on channel ``ch`` (its closed trades, with their entry,
    profit, commission and swap), for the channel's statistics. The hub keeps each once, by
    ``ticket``, and acks with ``n``: how many were new. Send them before the state that shows
    their balance change (docs/statistics.md)."""

    ch: str
    deals: Annotated[list[Deal], msgspec.Meta(max_length=MAX_DEALS_PER_FRAME)]
    id: RequestId = None


def _deals_check(frame: PutDeals) -> tuple[str, str] | None:
    if not is_channel(frame.ch):
        return ("invalid_deals", "channel name must match [A-Za-z0-9_.-]{1,64}")
    seen: set[str] = set()
    for index, deal in enumerate(frame.deals):
        where = f"deals[{index}]"
        if not (0 < len(deal.ticket) <= 32) or deal.ticket in seen:
            return ("invalid_deals", f"{where}.ticket must be 1 to 32 characters and unique")
        seen.add(deal.ticket)
        if len(deal.position_id) > 32 or len(deal.comment) > 64:
            return ("invalid_deals", f"{where}: position_id or comment too long")
        if not is_symbol(deal.symbol):
            return ("invalid_deals", f"{where}.symbol must match [A-Za-z0-9_.#+-]{{1,32}}")
        if not (is_finite(deal.volume) and deal.volume > 0):
            return ("invalid_deals", f"{where}.volume must be finite and > 0")
        for name in ("price", "profit", "commission", "swap"):
            if not is_finite(getattr(deal, name)) or abs(getattr(deal, name)) > 1e12:
                return ("invalid_deals", f"{where}.{name} must be finite")
        if deal.price < 0 or deal.time <= 0:
            return ("invalid_deals", f"{where}: price must be >= 0 and time Unix ms")
    return None


class ChannelStatsRequest(Frame, frozen=True, tag="channel_stats"):
    """The statistics of channel ``ch`` (its followers, its providers and admins), from
    ``since_ms`` to ``until_ms`` (Unix ms; the whole stored history when left out)."""

    ch: str
    since_ms: Int64 | None = None
    until_ms: Int64 | None = None
    id: RequestId = None


class MonthReturn(msgspec.Struct, frozen=True):
    month: str  # "2026-11", UTC
    pct: float  # the month's growth, deposits and withdrawals excluded


class CurvePoint(msgspec.Struct, frozen=True, array_like=True):
    ts: int
    balance: float
    equity: float


class ChannelStats(Frame, frozen=True, tag="channel_stats"):
    """A channel's figures over ``start_ms``..``end_ms`` (docs/statistics.md says how each is
    computed). Ratios that cannot be computed (no losing trade, no drawdown, fewer than two
    trades) are null."""

    ch: str
    start_ms: int
    end_ms: int
    currency: str
    points: int  # stored moments the figures come from
    growth_pct: float
    profit: float  # from trades, in the account currency
    deposits: float  # net deposits minus withdrawals (balance changes without a trade)
    balance_drawdown: float
    balance_drawdown_pct: float
    equity_drawdown: float
    equity_drawdown_pct: float
    profit_factor: float | None
    expected_payoff: float | None
    recovery_factor: float | None
    sharpe: float | None
    trades: int
    win_pct: float | None
    average_win: float | None
    average_loss: float | None
    best_trade: float | None
    worst_trade: float | None
    longest_losing_series: int
    average_holding_s: float | None
    trades_per_week: float
    deposit_load_pct: float | None  # the highest margin / equity, when the provider sends margin
    monthly: list[MonthReturn]
    curve: Annotated[list[CurvePoint], msgspec.Meta(max_length=2000)]  # thinned for charts
    # Protocol 1.5: where the trades come from ("deals" the provider sent, or "states" where
    # it sent none), and the commission and swap in ``profit`` (deals only).
    trades_from: str = "states"
    commission: float = 0.0
    swap: float = 0.0
    re: RequestId = None


class SimulateRequest(Frame, frozen=True, tag="channel_simulate"):
    """Protocol 1.5: what following ``ch`` from ``since_ms`` to ``until_ms`` would have done to
    a ``mode`` paper account of ``deposit`` USD copying with ``rules`` (the keys of a rules
    file, docs/copying.md). Same readers as ``channel_stats``; docs/simulate.md."""

    ch: str
    deposit: Annotated[float, msgspec.Meta(gt=0, le=1e9)]
    rules: dict[str, Any] = {}
    mode: Literal["hedging", "netting"] = "hedging"
    leverage: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    since_ms: Int64 | None = None
    until_ms: Int64 | None = None
    id: RequestId = None


class SimFill(msgspec.Struct, frozen=True, omit_defaults=True):
    """A deal of the simulated account: a copy's fill, or its stop-loss or take-profit."""

    ts: int
    symbol: str
    side: str
    volume: float
    price: float
    entry: str
    profit: float = 0.0


class SimSkip(msgspec.Struct, frozen=True):
    """A copy not made, or refused, and why (the follower's journal: skip, reject)."""

    ts: int
    symbol: str
    reason: str


MAX_FILLS, MAX_SKIPS = 2000, 500


class Simulation(Frame, frozen=True, tag="channel_simulation"):
    """The what-if replay's result: the simulated account's figures (as ``channel_stats``),
    its curve beside the provider's, its deals and skips (the first MAX_FILLS/MAX_SKIPS, and
    how many in all), and how many quotes each price source gave (docs/simulate.md)."""

    ch: str
    deposit: float
    mode: str
    moments: int
    balance: float
    equity: float
    stats: ChannelStats
    provider_curve: Annotated[list[CurvePoint], msgspec.Meta(max_length=2000)]
    fills: list[SimFill]
    fills_total: int
    skips: list[SimSkip]
    skips_total: int
    prices: dict[str, int]
    # each source's share of the period, in % of symbol-time (a quote holds until the next
    # moment); empty for a period of one moment
    price_time_pct: dict[str, float] = {}
    re: RequestId = None


FRAMES = FrameSet(
    "history",
    client=(ChannelStatsRequest, PutDeals, SimulateRequest),
    server=(ChannelStats, Simulation),
    checks={PutDeals: _deals_check},
)
