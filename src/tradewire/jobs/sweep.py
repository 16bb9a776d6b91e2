"""A parameter sweep of a moving-average crossover, the demonstration of shared computation
(docs/jobs.md): ``backtest`` is the task function, ``grid`` makes the payloads.

The strategy holds +1 while the fast SMA of closes is above the slow one, -1 while below, and
nothing until both exist; profit is the sum of position times the next close's change (in
price units per unit held). Data: a seeded random walk (``{"seed": 7, "bars": 5000}``, the same
bars on every machine) or an MT5 tick export aggregated to bars (``{"file": PATH, "symbol":
"EURUSD", "timeframe": "M1"}``; PATH relative to the worker's ``--data-root``, which it may not
leave). Every parameter is checked (types and bounds) before any work.
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

from tradewire.jobs.registry import TaskError, bounded_int, data_file, task_function
from tradewire.protocol.names import is_symbol
from tradewire.ticks.bars import TIMEFRAMES, bars
from tradewire.ticks.sources import from_mt5_csv


@functools.lru_cache(maxsize=8)
def _closes(data_key: str) -> tuple[float, ...]:
    data = json.loads(data_key)
    if not isinstance(data, dict):
        raise TaskError("data must be an object")
    if "file" in data:
        symbol, timeframe = data.get("symbol", "EURUSD"), data.get("timeframe", "M1")
        if not isinstance(symbol, str) or not is_symbol(symbol):
            raise TaskError("data.symbol must be a symbol name")
        if timeframe not in TIMEFRAMES:
            raise TaskError(f"data.timeframe must be one of {', '.join(TIMEFRAMES)}")
        rows = from_mt5_csv(data_file(data["file"]), symbol)
        return tuple(bar.close for bar in bars(rows, timeframe))
    rng = random.Random(bounded_int(data, "seed", 0, 2**31, 7))
    price, closes = 1.1, []
    for _ in range(bounded_int(data, "bars", 2, 10_000_000, 5000)):
        price *= 1 + rng.gauss(0, 0.0008)
        closes.append(round(price, 6))
    return tuple(closes)


@task_function
def backtest(payload: dict[str, Any]) -> dict[str, Any]:
    """One parameter pair over the data; deterministic (the same result in any process)."""
    if not isinstance(payload, dict):
        raise TaskError("the payload must be an object")
    fast = bounded_int(payload, "fast", 1, 100_000)
    slow = bounded_int(payload, "slow", 2, 100_000)
    if not fast < slow:
        raise TaskError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
    closes = _closes(json.dumps(payload.get("data", {}), sort_keys=True))
    prefix = [0.0]  # prefix[k]: the sum of the first k closes
    for close in closes:
        prefix.append(prefix[-1] + close)
    pnl = peak = drawdown = 0.0
    trades = 0
    position = 0
    for i in range(slow - 1, len(closes) - 1):
        fast_sma = (prefix[i + 1] - prefix[i + 1 - fast]) / fast
        slow_sma = (prefix[i + 1] - prefix[i + 1 - slow]) / slow
        wanted = 1 if fast_sma > slow_sma else -1
        if wanted != position:
            trades += 1
            position = wanted
        pnl += position * (closes[i + 1] - closes[i])
        peak = max(peak, pnl)
        drawdown = max(drawdown, peak - pnl)
    return {
        "fast": fast,
        "slow": slow,
        "pnl": round(pnl, 10),
        "trades": trades,
        "max_drawdown": round(drawdown, 10),
    }


def grid(fast: list[int], slow: list[int], data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pair with fast < slow, as task payloads."""
    return [{"fast": f, "slow": s, "data": data} for f in fast for s in slow if f < s]
