"""Indicators computed bar by bar as ticks stream in (pure; docs/topics.md).

``BarBuilder`` closes a bar when the first tick of the next one arrives; ``Sma``, ``Rsi`` and
``Atr`` take closed bars one at a time and give a value once they have seen enough (``None``
before). RSI and ATR use Wilder's smoothing: the first value is the simple mean of the first
``period`` changes (true ranges), each later one ``(previous * (period - 1) + current) / period``.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from tradewire.ticks.bars import Bar


class BarBuilder:
    def __init__(self, timeframe_ms: int) -> None:
        self.timeframe_ms = timeframe_ms
        self._start: int | None = None
        self._o = self._h = self._l = self._c = 0.0
        self._n = 0

    def add(self, time_ms: int, price: float) -> Bar | None:
        """Take one tick; returns the bar it closed, if any. A tick older than the open bar
        (late, out of order) is ignored."""
        bucket = time_ms - time_ms % self.timeframe_ms
        closed = None
        if self._start is not None and bucket < self._start:
            return None
        if bucket != self._start:
            if self._start is not None:
                closed = Bar(self._start, self._o, self._h, self._l, self._c, self._n)
            self._start, self._o, self._h, self._l, self._c, self._n = (
                bucket, price, price, price, price, 0,
            )  # fmt: skip
        self._h, self._l, self._c = max(self._h, price), min(self._l, price), price
        self._n += 1
        return closed


class Indicator(Protocol):
    def update(self, bar: Bar) -> float | None: ...


class Sma:
    def __init__(self, period: int) -> None:
        self._closes: deque[float] = deque(maxlen=period)
        self._sum = 0.0

    def update(self, bar: Bar) -> float | None:
        if len(self._closes) == self._closes.maxlen:
            self._sum -= self._closes[0]
        self._closes.append(bar.close)
        self._sum += bar.close
        return self._sum / len(self._closes) if len(self._closes) == self._closes.maxlen else None


class _Wilder:
    """Wilder's smoothing of a series: a simple mean first, then the running average."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.value: float | None = None
        self._seed: list[float] = []

    def add(self, x: float) -> float | None:
        if self.value is None:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = sum(self._seed) / self.period
        else:
            self.value = (self.value * (self.period - 1) + x) / self.period
        return self.value


class Rsi:
    def __init__(self, period: int) -> None:
        self._gain, self._loss = _Wilder(period), _Wilder(period)
        self._previous: float | None = None

    def update(self, bar: Bar) -> float | None:
        previous, self._previous = self._previous, bar.close
        if previous is None:
            return None
        change = bar.close - previous
        gain, loss = self._gain.add(max(change, 0.0)), self._loss.add(max(-change, 0.0))
        if gain is None or loss is None:
            return None
        return 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)


class Atr:
    def __init__(self, period: int) -> None:
        self._range = _Wilder(period)
        self._previous_close: float | None = None

    def update(self, bar: Bar) -> float | None:
        previous, self._previous_close = self._previous_close, bar.close
        true_range = bar.high - bar.low
        if previous is not None:
            true_range = max(true_range, abs(bar.high - previous), abs(bar.low - previous))
        return self._range.add(true_range)


KINDS: dict[str, type[Sma] | type[Rsi] | type[Atr]] = {"sma": Sma, "rsi": Rsi, "atr": Atr}


def indicator(kind: str, period: int) -> Indicator:
    return KINDS[kind](period)
