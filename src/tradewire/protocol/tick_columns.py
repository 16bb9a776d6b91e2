"""Ticks as columns (PROTOCOL.md 1.2, the columnar ``ticks`` frame), pure.

A native frame may carry its ticks column by column instead of row by row:

    {"t":"ticks","id":"b7","symbols":["EURUSD","GBPUSD"],"sym":[0,1,0],
     "time_ms":[1700000000000,1700000000001,1700000000002],
     "bid":[1.0831,1.2702,1.0832],"ask":[1.0832,1.2704,1.0833]}

``sym`` indexes ``symbols`` per tick and may be left out when there is one symbol; ``last`` and
``volume`` are optional whole columns. The JSON decoder checks every value's type and sign in C
(msgspec), and the remaining rules (the same as for rows) are checked over whole columns with
``min``/``max``: no Python work per tick. The hub, the tick writer and the store keep the
columns as they are; rows are made only for whoever asks for them (live subscribers, indicators).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tradewire.protocol.messages import PublishTicks
from tradewire.protocol.names import is_symbol
from tradewire.protocol.ticks import DAY_MS, TickRow, check_rows

MAX_SYMBOLS = 1_000  # per frame
MAX_COLUMN_TICKS = 100_000  # per columnar frame (the frame's byte limit usually binds first)
NONE = math.nan  # a missing ask, last or volume inside the columns (never a valid price)


class TickColumns:
    """Ticks of one or more symbols, column by column; ``sym`` is None when all are of
    ``symbols[0]``. ``ask``, ``last``, ``volume`` hold NaN where a tick has none."""

    __slots__ = ("ask", "bid", "last", "sym", "symbols", "time_ms", "volume")

    def __init__(
        self,
        symbols: list[str],
        sym: list[int] | None,
        time_ms: list[int],
        bid: list[float],
        ask: list[float],
        last: list[float] | None = None,
        volume: list[float] | None = None,
    ) -> None:
        self.symbols, self.sym, self.time_ms = symbols, sym, time_ms
        self.bid, self.ask, self.last, self.volume = bid, ask, last, volume

    def __len__(self) -> int:
        return len(self.time_ms)

    @classmethod
    def from_rows(cls, rows: Sequence[TickRow]) -> TickColumns:
        """Rows (validated) as columns."""
        if not rows:
            return cls([], None, [], [], [])
        names, times, bids, asks, lasts, volumes = zip(*rows, strict=True)
        symbols = list(dict.fromkeys(names))
        index = {name: i for i, name in enumerate(symbols)}
        sym = None if len(symbols) == 1 else [index[name] for name in names]
        return cls(
            symbols,
            sym,
            list(times),
            list(bids),
            [NONE if a is None else a for a in asks],
            None if all(x is None for x in lasts) else [NONE if x is None else x for x in lasts],
            None
            if all(x is None for x in volumes)
            else [NONE if x is None else x for x in volumes],
        )

    def rows(self) -> list[TickRow]:
        """The ticks as rows, in order."""
        names = (
            [self.symbols[0]] * len(self)
            if self.sym is None
            else [self.symbols[i] for i in self.sym]
        )
        none = [None] * len(self)
        return list(
            zip(
                names,
                self.time_ms,
                self.bid,
                _nullable(self.ask),
                none if self.last is None else _nullable(self.last),
                none if self.volume is None else _nullable(self.volume),
                strict=True,
            )
        )

    def by_symbol(self) -> list[tuple[str, TickColumns]]:
        """One single-symbol part per symbol, ticks in their order (free for one symbol)."""
        if self.sym is None:
            return [(self.symbols[0], self)] if len(self) else []
        picks: list[list[int]] = [[] for _ in self.symbols]
        for i, s in enumerate(self.sym):
            picks[s].append(i)
        parts = []
        for name, pick in zip(self.symbols, picks, strict=True):
            if pick:
                parts.append((name, self._take(name, pick)))
        return parts

    def _take(self, name: str, pick: list[int]) -> TickColumns:
        def take(col: list[float] | None) -> list[float] | None:
            return None if col is None else [col[i] for i in pick]

        return TickColumns(
            [name],
            None,
            [self.time_ms[i] for i in pick],
            [self.bid[i] for i in pick],
            [self.ask[i] for i in pick],
            take(self.last),
            take(self.volume),
        )


def _nullable(column: list[float]) -> list[float | None]:
    return [None if x != x else x for x in column]  # NaN is the only value unequal to itself


def check_columns(
    symbols: list[str],
    sym: list[int] | None,
    time_ms: list[int],
    bid: list[float],
    ask: list[float],
    last: list[float] | None,
    volume: list[float] | None,
    now_ms: int,
    max_rows: int,
) -> TickColumns | str:
    """The columns of a frame whose values msgspec typed (ints, floats >= 0), or the first
    rule they break."""
    n = len(time_ms)
    if not symbols or len(symbols) > MAX_SYMBOLS:
        return f"symbols: 1 to {MAX_SYMBOLS} names"
    bad = next((s for s in symbols if not is_symbol(s)), None)
    if bad is not None:
        return f"symbol {bad[:40]!r} must match [A-Za-z0-9_.#+-]{{1,32}}"
    if n > max_rows:
        return f"at most {max_rows} ticks per frame"
    columns = {"bid": bid, "ask": ask, "last": last, "volume": volume, "sym": sym}
    for name, column in columns.items():
        if column is not None and len(column) != n:
            return f"{name} has {len(column)} values for {n} ticks"
    if sym is None and len(symbols) > 1:
        return "sym is required with more than one symbol"
    if sym and max(sym) >= len(symbols):
        return f"tick {_first(sym, lambda s: s >= len(symbols))}: sym beyond symbols"
    if n and (min(time_ms) < 0 or max(time_ms) > now_ms + DAY_MS):
        tick = _first(time_ms, lambda t: t < 0 or t > now_ms + DAY_MS)
        return f"tick {tick}: time_ms is before 1970 or more than a day ahead"
    for name, column in (("bid", bid), ("ask", ask), ("last", last), ("volume", volume)):
        if column and not math.isfinite(max(column)):  # >= 0 was checked while decoding
            return f"tick {_first(column, lambda x: not math.isfinite(x))}: {name} must be finite"
    return TickColumns(symbols, sym if len(symbols) > 1 else None, time_ms, bid, ask, last, volume)


def _first(values: Sequence[float], wrong: object) -> int:
    return next(i for i, v in enumerate(values) if wrong(v))  # type: ignore[operator]


def native_ticks(frame: PublishTicks, now: int) -> TickColumns | str:
    """A native frame's ticks, rows or columns, checked whole; or why it is refused."""
    if frame.rows is not None:
        if frame.symbols is not None:
            return "give rows or columns (symbols, time_ms, bid, ask), not both"
        checked = check_rows(frame.rows, now)
        if isinstance(checked, tuple):
            return f"row {checked[0]}: {checked[1]}"
        return TickColumns.from_rows(checked)
    if frame.symbols is None or frame.time_ms is None or frame.bid is None or frame.ask is None:
        return "give rows, or the columns symbols, time_ms, bid and ask"
    return check_columns(
        frame.symbols,
        frame.sym,
        frame.time_ms,
        frame.bid,
        frame.ask,
        frame.last,
        frame.volume,
        now,
        MAX_COLUMN_TICKS,
    )
