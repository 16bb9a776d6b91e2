"""Price feeds for the paper broker.

:class:`SeededFeed` is a pure function of (seed, symbol, time): every process with the same seed
sees the same prices at the same moment, so a provider and its followers on separate paper
accounts quote alike, and tests are repeatable. It layers value noise at three time scales
around the reference mid of :data:`~tradewire.brokers.symbols.REFERENCE_MID`.
:class:`ReplayFeed` replays an MT5 tick export for one symbol, looping, from a start time.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
from pathlib import Path
from typing import Protocol

from tradewire.brokers.base import Quote, SymbolSpec
from tradewire.brokers.symbols import REFERENCE_MID
from tradewire.protocol.mt5csv import read_ticks
from tradewire.ticks.sources import open_export

# (period in ms, amplitude relative to the mid)
_OCTAVES = ((1_500, 0.00012), (20_000, 0.0006), (300_000, 0.003))


class Feed(Protocol):
    def quote(self, spec: SymbolSpec, base: str, time_ms: int) -> Quote | None:
        """The quote of ``spec`` (whose catalogue name is ``base``) at ``time_ms``."""
        ...


@functools.lru_cache(maxsize=8192)  # an index lasts 1.5 s to 5 min: hundreds of accounts
def _unit(seed: int, symbol: str, index: int) -> float:  # quote alike, a hash each was the cost
    digest = hashlib.blake2b(f"{seed}:{symbol}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def _noise(seed: int, symbol: str, x: float) -> float:
    i = math.floor(x)
    f = x - i
    f = f * f * (3 - 2 * f)  # smoothstep: continuous prices, no jumps at grid points
    a, b = _unit(seed, symbol, i), _unit(seed, symbol, i + 1)
    return a + (b - a) * f


@functools.lru_cache(maxsize=4096)  # accounts of one process ask for the same mids each moment
def _mid(seed: int, base: str, time_ms: int) -> float | None:
    reference = REFERENCE_MID.get(base)
    if reference is None:
        return None
    move = sum(
        amp * _noise(seed + k, base, time_ms / period) for k, (period, amp) in enumerate(_OCTAVES)
    )
    return reference[0] * (1 + move)


class SeededFeed:
    """Deterministic prices: the same seed gives the same quotes in every process."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed

    def mid(self, base: str, time_ms: int) -> float | None:
        return _mid(self.seed, base, time_ms)

    def quote(self, spec: SymbolSpec, base: str, time_ms: int) -> Quote | None:
        return _quote(self.seed, spec.name, spec.point, spec.digits, base, time_ms)


@functools.lru_cache(maxsize=4096)  # a thousand accounts value the same symbols each moment
def _quote(
    seed: int, name: str, point: float, digits: int, base: str, time_ms: int
) -> Quote | None:
    mid = _mid(seed, base, time_ms)
    if mid is None:
        return None
    half = REFERENCE_MID[base][1] * point / 2
    return Quote(name, round(mid - half, digits), round(mid + half, digits), time_ms)


class ReplayFeed:
    """Replays one symbol's MT5 tick export from ``start_ms``, looping; other symbols fall
    back to ``fallback``."""

    def __init__(self, path: Path, symbol: str, start_ms: int, fallback: Feed) -> None:
        with open_export(path) as fh:
            ticks = list(read_ticks(fh))
        if not ticks:
            raise ValueError(f"{path}: no ticks with both bid and ask")
        self.symbol = symbol
        self._times = [t.time_ms - ticks[0].time_ms for t in ticks]
        self._ticks = ticks
        self._span = max(self._times[-1], 1) + 1
        self._start = start_ms
        self._fallback = fallback

    def quote(self, spec: SymbolSpec, base: str, time_ms: int) -> Quote | None:
        if base != self.symbol:
            return self._fallback.quote(spec, base, time_ms)
        offset = (time_ms - self._start) % self._span
        tick = self._ticks[max(0, bisect.bisect_right(self._times, offset) - 1)]
        return Quote(spec.name, tick.bid, tick.ask, time_ms)
