"""The follower's decision journal: one JSON object per line, for every order and every skip.

Each fill records the latency from the provider's change (the state's ``ts``) to the fill, and
the slippage in points against the provider's entry price (opens and increases only: the state
does not carry the provider's closing price). The newest entries and the latencies are also
kept in memory for the live view and ``--status``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import msgspec

_encoder = msgspec.json.Encoder()


class Journal:
    """Appends decisions to ``path`` (if given) and remembers the last ``keep``."""

    def __init__(self, path: Path | None = None, keep: int = 200) -> None:
        self.path = path
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.latencies_ms: list[float] = []
        self.slippage_points: list[float] = []
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
            if fields.get("latency_ms") is not None:
                self.latencies_ms.append(fields["latency_ms"])
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


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank, or ``None`` without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
