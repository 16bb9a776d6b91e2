"""Copy quality from follower journals (``tradewire journal stats|plot``, docs/copying.md):
fills, rejects, skips and errors, latency and slippage percentiles, per symbol and per day."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from tradewire.clients.journal import percentile
from tradewire.exceptions import UserError

EVENTS = ("fill", "reject", "skip", "error")


@dataclass
class Quality:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENTS, 0))
    latencies_ms: list[float] = field(default_factory=list)
    slippage_points: list[float] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        event = entry.get("event")
        if event in self.counts:
            self.counts[event] += 1
        if event == "fill":
            if isinstance(entry.get("latency_ms"), int | float):
                self.latencies_ms.append(float(entry["latency_ms"]))
            if isinstance(entry.get("slippage_points"), int | float):
                self.slippage_points.append(float(entry["slippage_points"]))

    def row(self) -> dict[str, Any]:
        lat, slip = self.latencies_ms, self.slippage_points
        return {
            **self.counts,
            "latency_p50_ms": percentile(lat, 0.5),
            "latency_p99_ms": percentile(lat, 0.99),
            "slippage_mean_pts": round(sum(slip) / len(slip), 2) if slip else None,
            "slippage_p99_pts": percentile(slip, 0.99),
        }


def entries(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every entry of the journals; a line that is not a journal entry is a UserError naming
    the file and line."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror or exc}") from None
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = msgspec.json.decode(line)
            except msgspec.DecodeError:
                raise UserError(f"{path}:{number}: not a journal line (JSON expected)") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("time_ms"), int):
                raise UserError(f"{path}:{number}: not a journal entry (no time_ms)")
            yield entry


def day_of(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d")


def quality(paths: Iterable[Path], by: str) -> dict[tuple[str, ...], Quality]:
    """Copy quality grouped ``by`` "symbol", "day", "both" or "all"."""
    groups: dict[tuple[str, ...], Quality] = {}
    for entry in entries(paths):
        symbol = str(entry.get("symbol", "-"))
        key = {
            "symbol": (symbol,),
            "day": (day_of(entry["time_ms"]),),
            "both": (day_of(entry["time_ms"]), symbol),
            "all": ("all",),
        }[by]
        groups.setdefault(key, Quality()).add(entry)
    return dict(sorted(groups.items()))
