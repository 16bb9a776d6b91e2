"""OHLC bars from bids, with tick counts (pure)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import msgspec

from tradewire.protocol.ticks import TickRow

TIMEFRAMES_MS = {
    "S5": 5_000,
    "S15": 15_000,
    "M1": 60_000,
    "M5": 300_000,
    "M15": 900_000,
    "M30": 1_800_000,
    "H1": 3_600_000,
    "H4": 14_400_000,
    "D1": 86_400_000,
}


DAY_MS = 86_400_000
# Every timeframe bars() takes: the fixed ones, a week opening on Sunday 00:00 UTC (as MT5's
# W1 bars do) and a calendar month.
TIMEFRAMES = (*TIMEFRAMES_MS, "W1", "MN1")


def _week(time_ms: int) -> int:
    day = time_ms // DAY_MS  # 1970-01-01, day 0, was a Thursday: 4 days after a Sunday
    return (day - (day + 4) % 7) * DAY_MS


def _month(time_ms: int) -> int:
    moment = time.gmtime(time_ms // 1000)
    return int(datetime(moment.tm_year, moment.tm_mon, 1, tzinfo=UTC).timestamp() * 1000)


def bar_start(timeframe: str) -> Callable[[int], int]:
    """The opening time of the bar of ``timeframe`` (one of ``TIMEFRAMES``) holding a time."""
    if timeframe == "W1":
        return _week
    if timeframe == "MN1":
        return _month
    length = TIMEFRAMES_MS[timeframe]
    return lambda time_ms: time_ms - time_ms % length


class Bar(msgspec.Struct, frozen=True):
    time_ms: int  # the bar's opening time (UTC, aligned to the timeframe)
    open: float
    high: float
    low: float
    close: float
    ticks: int


def bars(rows: Iterable[TickRow], timeframe: str) -> Iterator[Bar]:
    """Aggregate rows of one symbol, in time order, into bars of ``timeframe``."""
    start = None
    opening = bar_start(timeframe)
    o = h = lo = c = 0.0
    n = 0
    for row in rows:
        bucket = opening(row[1])
        bid = row[2]
        if bucket != start:
            if start is not None:
                yield Bar(start, o, h, lo, c, n)
            start, o, h, lo, c, n = bucket, bid, bid, bid, bid, 0
        h, lo, c = max(h, bid), min(lo, bid), bid
        n += 1
    if start is not None:
        yield Bar(start, o, h, lo, c, n)
