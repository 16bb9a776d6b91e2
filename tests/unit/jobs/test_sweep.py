"""The sweep's backtest against a naive implementation of the same strategy."""

from __future__ import annotations

import pytest

from tradewire.jobs.sweep import _closes, backtest, grid


def naive(closes: tuple[float, ...], fast: int, slow: int) -> tuple[float, int]:
    pnl, trades, position = 0.0, 0, 0
    for i in range(slow - 1, len(closes) - 1):
        f = sum(closes[i - fast + 1 : i + 1]) / fast
        s = sum(closes[i - slow + 1 : i + 1]) / slow
        wanted = 1 if f > s else -1
        trades += wanted != position
        position = wanted
        pnl += position * (closes[i + 1] - closes[i])
    return pnl, trades


@pytest.mark.parametrize(("fast", "slow"), [(2, 5), (5, 30), (13, 34)])
def test_the_backtest_equals_the_naive_strategy(fast: int, slow: int) -> None:
    data = {"seed": 11, "bars": 800}
    got = backtest({"fast": fast, "slow": slow, "data": data})
    pnl, trades = naive(_closes('{"bars": 800, "seed": 11}'), fast, slow)
    assert got["pnl"] == pytest.approx(pnl, abs=1e-9) and got["trades"] == trades


def test_the_grid_keeps_fast_below_slow_and_bad_pairs_fail() -> None:
    assert [(p["fast"], p["slow"]) for p in grid([5, 30], [10, 30], {})] == [(5, 10), (5, 30)]
    with pytest.raises(ValueError, match="fast < slow"):
        backtest({"fast": 30, "slow": 10})
