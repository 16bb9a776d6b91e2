"""The follower's decision journal: one JSON object per line, for every order and every skip.

Each fill records the latency from the provider's change (the state's ``ts``) to the fill, and
the slippage in points against the provider's entry price (opens and increases only: the state
does not carry the provider's closing price). The newest entries, the latencies and slippages
of the last RECENT_FILLS fills, and a histogram of every fill's latency are also kept in memory
for the live view, ``--status`` and the hub's dashboard: bounded, so that a follower running
for months neither grows nor walks more each time it reports.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec

from tradewire.protocol.frames.reports import LATENCY_EDGES_MS

_encoder = msgspec.json.Encoder()
RECENT_FILLS = 200  # latencies and slippages kept for p50/p99 and the mean


class Journal:
    """Appends decisions to ``path`` (if given) and remembers the last ``keep``."""

    def __init__(self, path: Path | None = None, keep: int = 200) -> None:
        self.path = path
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.latencies_ms: collections.deque[float] = collections.deque(maxlen=RECENT_FILLS)
        self.slippage_points: collections.deque[float] = collections.deque(maxlen=RECENT_FILLS)
        # every fill's latency since start, per bucket of LATENCY_EDGES_MS (then "more")
        self.latency_hist = [0] * (len(LATENCY_EDGES_MS) + 1)
        self.counts: collections.Counter[str] = collections.Counter()
        self._file: TextIO | None = None
        # told of every event as it is written (clients/alerts.py sends some to a person)
        self.listener: Callable[[str, dict[str, Any]], None] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)  # line-buffered

    def write(self, event: str, time_ms: int, **fields: Any) -> None:
        entry = {"time_ms": time_ms, "event": event, **fields}
        self.recent.append(entry)
        self.counts[event] += 1
        if event == "fill":
            if (latency := fields.get("latency_ms")) is not None:
                self.latencies_ms.append(latency)
                self.latency_hist[bisect.bisect_left(LATENCY_EDGES_MS, latency)] += 1
            if fields.get("slippage_points") is not None:
                self.slippage_points.append(fields["slippage_points"])
        if self._file is not None:
            self._file.write(_encoder.encode(entry).decode() + "\n")
        if self.listener is not None:
            self.listener(event, fields)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank, or ``None`` without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
