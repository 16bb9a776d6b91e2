"""A channel's statistics from the moments the hub stored of it (docs/statistics.md).

The hub keeps a :class:`Point` whenever the provider's positions or balance change, and its
equity at least once a minute while the provider is live. From consecutive points:

* a position that is gone, or smaller, was **closed**: the balance change at that point is its
  profit (commission and swap included), shared by volume when several close at once;
* a balance change with nothing closed is a **deposit or withdrawal**: it is left out of growth,
  profit and drawdowns;
* **growth** compounds each point's trading profit over the balance before it, as MT5 Signals
  counts it, so that deposits neither add growth nor hide a loss.

Where the provider sent its **deals** (protocol 1.5), the deals placed between two points say
that point's trading profit instead (profit, commission and swap), each closing deal is a trade
(with its share of the commission paid when its position was opened), and only what the
balance changed beyond them is a deposit or withdrawal. Points with no deal keep the rules above.

Pure: the caller gives the points, oldest first, and the deals with their places.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence

from tradewire.model import Deal
from tradewire.protocol.frames.history import ChannelStats, CurvePoint, MonthReturn
from tradewire.stats.trades import EPS, Point, Trade, walk

__all__ = ["Point", "Trade", "channel_stats", "thin_curve", "walk"]

WEEK_MS = 7 * 24 * 3600 * 1000
CURVE_POINTS = 500


def _drawdown(values: Sequence[float], flows: Sequence[float]) -> tuple[float, float]:
    """The deepest fall from a peak (absolute, %), with deposits and withdrawals taken out."""
    worst = worst_pct = 0.0
    cumulative = 0.0
    peak = -math.inf
    for value, flow in zip(values, flows, strict=True):
        cumulative += flow
        adjusted = value - cumulative
        peak = max(peak, adjusted)
        fall = peak - adjusted
        worst = max(worst, fall)
        if peak + cumulative > EPS:
            worst_pct = max(worst_pct, 100.0 * fall / (peak + cumulative))
    return worst, worst_pct


def _monthly(returns: Sequence[tuple[int, float]]) -> list[MonthReturn]:
    months: dict[str, float] = {}
    for ts, r in returns:
        month = time.strftime("%Y-%m", time.gmtime(ts / 1000))
        months[month] = (1 + months.get(month, 0.0)) * (1 + r) - 1
    return [MonthReturn(m, 100 * g) for m, g in sorted(months.items())]


def _longest_losing(trades: Sequence[Trade]) -> int:
    longest = run = 0
    for trade in trades:
        run = run + 1 if trade.profit < -EPS else 0
        longest = max(longest, run)
    return longest


def thin_curve(points: Sequence[Point]) -> list[CurvePoint]:
    step = max(1, math.ceil(len(points) / CURVE_POINTS))
    picked = list(points[::step])
    if points and picked[-1] is not points[-1]:
        picked.append(points[-1])
    return [CurvePoint(p.ts, round(p.balance, 2), round(p.equity, 2)) for p in picked]


def channel_stats(
    channel: str,
    currency: str,
    points: Sequence[Point],
    deals: Sequence[tuple[int, Deal]] = (),
) -> ChannelStats:
    """Every figure of docs/statistics.md over ``points`` (oldest first; at least one) and the
    provider's ``deals`` (each with its place on the points' clock, in order)."""
    if not points:
        raise ValueError("no points")
    w = walk(points, deals)
    trades = w.trades
    profits = [t.profit for t in trades]
    wins = [p for p in profits if p > EPS]
    losses = [p for p in profits if p < -EPS]
    profit = sum(profits)
    growth = math.prod(1 + r for _, r in w.returns) - 1
    balance_dd = _drawdown([p.balance for p in points], w.flows)
    equity_dd = _drawdown([p.equity for p in points], w.flows)
    rates = [r for _, r in w.returns]
    sharpe = None
    if len(rates) >= 2 and statistics.stdev(rates) > EPS:
        sharpe = statistics.mean(rates) / statistics.stdev(rates)
    span_ms = max(points[-1].ts - points[0].ts, WEEK_MS)
    loads = [100 * p.margin / p.equity for p in points if p.margin > 0 and p.equity > EPS]
    return ChannelStats(
        ch=channel,
        start_ms=points[0].ts,
        end_ms=points[-1].ts,
        currency=currency,
        points=len(points),
        growth_pct=100 * growth,
        profit=profit,
        deposits=sum(w.flows),
        balance_drawdown=balance_dd[0],
        balance_drawdown_pct=balance_dd[1],
        equity_drawdown=equity_dd[0],
        equity_drawdown_pct=equity_dd[1],
        profit_factor=sum(wins) / -sum(losses) if losses else None,
        expected_payoff=profit / len(trades) if trades else None,
        recovery_factor=profit / equity_dd[0] if equity_dd[0] > EPS else None,
        sharpe=sharpe,
        trades=len(trades),
        win_pct=100 * len(wins) / len(trades) if trades else None,
        average_win=statistics.mean(wins) if wins else None,
        average_loss=statistics.mean(losses) if losses else None,
        best_trade=max(profits) if profits else None,
        worst_trade=min(profits) if profits else None,
        longest_losing_series=_longest_losing(trades),
        average_holding_s=(
            statistics.mean((t.closed_ms - t.opened_ms) / 1000 for t in trades) if trades else None
        ),
        trades_per_week=len(trades) * WEEK_MS / span_ms,
        deposit_load_pct=max(loads) if loads else None,
        monthly=_monthly(w.returns),
        curve=thin_curve(points),
        trades_from="deals" if w.from_deals else "states",
        commission=w.commission,
        swap=w.swap,
    )
