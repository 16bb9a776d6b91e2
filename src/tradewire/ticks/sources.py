"""Tick sources for ``tradewire ticks send``: an MT5 tick export, a running MetaTrader 5
terminal's history, or a seeded random walk."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TextIO

from tradewire.brokers.mt5.scheme import load_package
from tradewire.brokers.symbols import REFERENCE_MID, resolve
from tradewire.exceptions import BrokerError
from tradewire.protocol.mt5csv import Skipped, detect_encoding, read_ticks
from tradewire.protocol.ticks import TickRow


def open_export(path: Path) -> TextIO:
    """An MT5 export opened as text in whatever encoding the terminal wrote it."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    return path.open(encoding=detect_encoding(head), errors="replace", newline="")


def from_mt5_csv(
    path: Path, symbol: str, zone: tzinfo = UTC, skipped: Skipped | None = None
) -> Iterator[TickRow]:
    """Rows of an MT5 tick export whose times are in ``zone`` (raises Mt5CsvError naming a bad
    line; ``skipped`` collects the ticks with no price yet)."""
    with open_export(path) as fh:
        for tick in read_ticks(fh, zone, skipped):
            yield (symbol, tick.time_ms, tick.bid, tick.ask, tick.last or None, tick.volume or None)


def random_walk(
    symbols: list[str], count: int, seed: int = 1, start_ms: int | None = None
) -> Iterator[TickRow]:
    """``count`` ticks spread over ``symbols``, 1 ms apart, walking from reference prices."""
    rng = random.Random(seed)
    t = start_ms if start_ms is not None else int(time.time() * 1000) - count
    mids = {s: REFERENCE_MID.get(s, (1.0, 10))[0] for s in symbols}
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        spec = resolve(symbol)
        digits = spec.digits if spec else 5
        mids[symbol] *= 1 + rng.gauss(0, 0.00005)
        spread = REFERENCE_MID.get(symbol, (1.0, 10))[1] * 10.0**-digits
        bid = round(mids[symbol] - spread / 2, digits)
        yield (symbol, t + i, bid, round(bid + spread, digits), None, None)


def from_mt5_terminal(symbol: str, start: datetime, end: datetime) -> list[TickRow]:
    """Every tick of ``symbol`` from ``start`` to ``end`` (UTC) in the running MetaTrader 5
    terminal's history, through MetaQuotes' package (``copy_ticks_range``, COPY_TICKS_ALL)."""
    mt5 = load_package()
    if not mt5.initialize():
        code, message = mt5.last_error()
        raise BrokerError(f"mt5: initialize failed: {message} ({code}); is the terminal running?")
    try:
        mt5.symbol_select(symbol, True)
        ticks = mt5.copy_ticks_range(symbol, start, end, mt5.COPY_TICKS_ALL)
        if ticks is None:
            code, message = mt5.last_error()
            raise BrokerError(f"mt5: copy_ticks_range({symbol}) failed: {message} ({code})")
        return [
            (
                symbol,
                int(tick["time_msc"]),
                float(tick["bid"]),
                float(tick["ask"]) or None,
                float(tick["last"]) or None,
                float(tick["volume_real"]) or None,
            )
            for tick in ticks
            if tick["bid"] > 0  # a last-only tick (exchange symbols) has no bid to store
        ]
    finally:
        mt5.shutdown()
