"""A channel's statistics against a history worked out by hand: a win, a deposit, a loss, then
two positions closed together; growth compounds trading returns only, drawdowns leave the
deposit out, and a partial close is a trade of the volume closed."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from tradewire.model import Position
from tradewire.stats.channel import Point, channel_stats, walk

T0 = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
H = 3_600_000
DEC1 = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
DEC2 = DEC1 + 24 * H


def pos(pid: str, volume: float, opened: int) -> Position:
    return Position(pid, "EURUSD", "buy", volume, 1.1, opened)


A, B = pos("A", 1.0, T0), pos("B", 1.0, T0 + 4 * H)
C, D = pos("C", 1.0, DEC1), pos("D", 3.0, DEC1)
HISTORY = [
    Point(T0, 10_000, 10_000, (A,)),
    Point(T0 + 1 * H, 10_000, 9_800, None),  # an equity sample
    Point(T0 + 2 * H, 10_200, 10_200, ()),  # A closed: +200
    Point(T0 + 3 * H, 15_200, 15_200, ()),  # a deposit of 5,000
    Point(T0 + 4 * H, 15_200, 15_200, (B,), margin=1_520),
    Point(T0 + 5 * H, 15_200, 14_000, None),
    Point(T0 + 6 * H, 14_440, 14_440, ()),  # B closed: -760
    Point(DEC1, 14_440, 14_440, (C, D), margin=2_888),
    Point(DEC2, 14_840, 14_840, ()),  # C and D closed together: +400, shared 1:3
]


def test_the_figures_of_a_history_worked_by_hand() -> None:
    s = channel_stats("alpha", "USD", HISTORY)
    assert (s.trades, s.points, s.deposits, s.profit) == (4, 9, 5_000, -160)
    assert (s.best_trade, s.worst_trade) == (300, -760)
    assert (s.average_win, s.average_loss) == (200, -760)
    assert s.win_pct == 75 and s.longest_losing_series == 1
    assert s.profit_factor == pytest.approx(600 / 760)
    assert s.expected_payoff == -40
    assert s.growth_pct == pytest.approx(100 * (1.02 * 0.95 * (1 + 400 / 14_440) - 1))
    # Balance less the deposit: 10,000, 10,200 (peak), 9,440: 760 below, 5 % of 15,200.
    assert s.balance_drawdown == pytest.approx(760)
    assert s.balance_drawdown_pct == pytest.approx(5.0)
    # Equity less the deposit falls to 9,000 in the sample: 1,200 of the peak's 15,200.
    assert s.equity_drawdown == pytest.approx(1_200)
    assert s.equity_drawdown_pct == pytest.approx(100 * 1_200 / 15_200)
    assert s.recovery_factor == pytest.approx(-160 / 1_200)
    rates = [0.02, -0.05, 400 / 14_440]
    assert s.sharpe == pytest.approx(statistics.mean(rates) / statistics.stdev(rates))
    assert s.average_holding_s == (2 * 7_200 + 2 * 86_400) / 4
    assert s.trades_per_week == pytest.approx(4 * 7 / 30)
    assert s.deposit_load_pct == pytest.approx(20)
    assert [(m.month, m.pct) for m in s.monthly] == [
        ("2026-11", pytest.approx(100 * (1.02 * 0.95 - 1))),
        ("2026-12", pytest.approx(100 * 400 / 14_440)),
    ]
    assert [p.ts for p in s.curve] == [p.ts for p in HISTORY]


def test_positions_closed_together_share_the_balance_change_by_volume() -> None:
    trades = walk(HISTORY).trades
    assert [(t.position_id, t.profit) for t in trades[-2:]] == [("C", 100), ("D", 300)]
    assert trades[0].closed_ms - trades[0].opened_ms == 2 * H


def test_a_partial_close_is_a_trade_of_the_volume_closed() -> None:
    big = pos("N", 2.0, T0)
    history = [
        Point(T0, 10_000, 10_000, (big,)),
        Point(T0 + H, 10_150, 10_150, (pos("N", 0.5, T0),)),
    ]
    (trade,) = walk(history).trades
    assert (trade.volume, trade.profit) == (1.5, 150)


def test_without_trades_ratios_are_none_and_a_withdrawal_is_no_loss() -> None:
    history = [Point(T0, 10_000, 10_000, ()), Point(T0 + H, 4_000, 4_000, ())]
    s = channel_stats("alpha", "USD", history)
    assert (s.trades, s.deposits, s.growth_pct, s.balance_drawdown) == (0, -6_000, 0, 0)
    assert s.profit_factor is None and s.win_pct is None and s.sharpe is None
    with pytest.raises(ValueError):
        channel_stats("alpha", "USD", [])
