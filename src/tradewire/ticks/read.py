"""``tradewire.ticks.read``: stored ticks for scripts and notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradewire.protocol.ticks import TickRow
from tradewire.store.tick_stores import open_tick_store

COLUMNS = ("symbol", "time_ms", "bid", "ask", "last", "volume")


def read(
    symbol: str,
    from_ms: int = 0,
    to_ms: int = 2**62,
    *,
    data: Path | str = "tradewire-data",
    frame: str | None = None,
    postgres: str = "",
) -> Any:
    """Ticks of ``symbol`` with ``from_ms <= time_ms < to_ms``.

    Returns a list of rows ``(symbol, time_ms, bid, ask, last, volume)``, or with
    ``frame="pandas"`` / ``frame="polars"`` a data frame (that library must be installed).
    ``postgres``: read a PostgreSQL tick store (a URL) instead of ``data``'s ticks.db.
    """
    store = open_tick_store(Path(data), postgres, readonly=True)
    try:
        rows: list[TickRow] = list(store.query(symbol, from_ms, to_ms))
    finally:
        store.close()
    if frame is None:
        return rows
    if frame == "pandas":
        import pandas

        return pandas.DataFrame(rows, columns=list(COLUMNS))
    if frame == "polars":
        import polars

        return polars.DataFrame(rows, schema=list(COLUMNS), orient="row")
    raise ValueError(f"frame must be None, 'pandas' or 'polars', not {frame!r}")
