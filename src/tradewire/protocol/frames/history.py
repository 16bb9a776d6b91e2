"""A channel's history and statistics (issue 27): what a follower reads before following, and
an operator after. ``channel_stats`` asks for a channel's figures over a period; the hub answers
with :class:`ChannelStats` (docs/statistics.md)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tradewire.model import Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


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
    re: RequestId = None


FRAMES = FrameSet("history", client=(ChannelStatsRequest,), server=(ChannelStats,))
