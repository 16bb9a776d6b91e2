"""OHLC bars from bids, with tick counts (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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


class Bar(msgspec.Struct, frozen=True):
    time_ms: int  # the bar's opening time (UTC, aligned to the timeframe)
    open: float
    high: float
    low: float
    close: float
    ticks: int


def bars(rows: Iterable[TickRow], timeframe_ms: int) -> Iterator[Bar]:
    """Aggregate rows of one symbol, in time order, into bars of ``timeframe_ms``."""
    start = None
    o = h = lo = c = 0.0
    n = 0
    for row in rows:
        bucket = row[1] - row[1] % timeframe_ms
        bid = row[2]
        if bucket != start:
            if start is not None:
                yield Bar(start, o, h, lo, c, n)
            start, o, h, lo, c, n = bucket, bid, bid, bid, bid, 0
        h, lo, c = max(h, bid), min(lo, bid), bid
        n += 1
    if start is not None:
        yield Bar(start, o, h, lo, c, n)
