"""The streaming indicators against plain reference implementations written from the
textbook definitions (whole series at once), on a seeded random walk."""

from __future__ import annotations

import itertools
import random

import pytest

from tradewire.ticks.bars import Bar, bars
from tradewire.ticks.indicators import Atr, BarBuilder, Rsi, Sma


def walk(n: int, seed: int = 3) -> list[Bar]:
    rng = random.Random(seed)
    price, out = 1.1, []
    for i in range(n):
        o = price
        moves = [price := price + rng.gauss(0, 0.0004) for _ in range(5)]
        out.append(Bar(i * 60_000, o, max(o, *moves), min(o, *moves), moves[-1], 5))
    return out


def ref_sma(closes: list[float], n: int) -> list[float | None]:
    return [None if i + 1 < n else sum(closes[i + 1 - n : i + 1]) / n for i in range(len(closes))]


def ref_rsi(closes: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(closes)
    changes = [b - a for a, b in itertools.pairwise(closes)]
    if len(changes) < n:
        return out
    gain = sum(max(c, 0) for c in changes[:n]) / n
    loss = sum(max(-c, 0) for c in changes[:n]) / n
    for i in range(n, len(changes) + 1):
        if i > n:
            c = changes[i - 1]
            gain = (gain * (n - 1) + max(c, 0)) / n
            loss = (loss * (n - 1) + max(-c, 0)) / n
        out[i] = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
    return out


def ref_atr(series: list[Bar], n: int) -> list[float | None]:
    ranges = [series[0].high - series[0].low] + [
        max(b.high - b.low, abs(b.high - a.close), abs(b.low - a.close))
        for a, b in itertools.pairwise(series)
    ]
    out: list[float | None] = [None] * len(series)
    atr = None
    for i, tr in enumerate(ranges):
        if i + 1 == n:
            atr = sum(ranges[:n]) / n
        elif atr is not None:
            atr = (atr * (n - 1) + tr) / n
        out[i] = atr
    return out


@pytest.mark.parametrize("period", [1, 3, 14])
def test_streaming_values_equal_the_references(period: int) -> None:
    series = walk(200)
    closes = [b.close for b in series]
    for calc, expected in [
        (Sma(period), ref_sma(closes, period)),
        (Rsi(period), ref_rsi(closes, period)),
        (Atr(period), ref_atr(series, period)),
    ]:
        got = [calc.update(b) for b in series]
        assert [g is None for g in got] == [e is None for e in expected], type(calc).__name__
        assert all(
            g == pytest.approx(e, rel=1e-9) for g, e in zip(got, expected, strict=True) if e
        ), type(calc).__name__


def test_rsi_of_a_rising_series_is_100_and_of_a_flat_one_too() -> None:
    rising = [Bar(i, 1, 1, 1, 1 + i / 100, 1) for i in range(20)]
    rsi = Rsi(5)
    assert [rsi.update(b) for b in rising][-1] == 100.0


def test_the_bar_builder_closes_the_same_bars_as_the_batch_aggregation() -> None:
    rng = random.Random(9)
    rows = []
    t = 1_700_000_000_000
    for _ in range(2000):
        t += rng.randint(1, 4000)
        rows.append(("EURUSD", t, 1.1 + rng.random() / 100, 1.2, None, None))
    builder = BarBuilder(60_000)
    closed = [bar for row in rows if (bar := builder.add(row[1], row[2])) is not None]
    assert closed == list(bars(rows, "M1"))[:-1]  # the last bar is still open
    assert builder.add(rows[0][1], 1.0) is None  # a late tick is ignored
