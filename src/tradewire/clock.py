"""Injected clocks: every timeout, heartbeat, ban and backoff reads one of these.

Production code takes a :class:`Clock`; tests pass a :class:`ManualClock` and move time by hand,
so schedules are asserted exactly without sleeping (DESIGN.md, conventions).
"""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """What tradewire needs to know about time."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards (timeouts, intervals)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch (bans that survive restarts, timestamps)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._wall += seconds
        self._mono += seconds


def now_ms(clock: Clock) -> int:
    """Wall-clock time in integer Unix milliseconds, the wire's unit."""
    return int(clock.time() * 1000)


def format_ms(stamp_ms: int) -> str:
    """A wall-clock stamp for people: ``2026-11-25 16:45:22 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp_ms / 1000))


def micros(seconds: float) -> int:
    """A clock reading in integer microseconds, the unit of the per-hop latency stamps."""
    return int(seconds * 1_000_000)


@functools.cache
def host_id() -> str:
    """This host and boot, hashed (``""`` where unknown). Processes with the same id read the
    same monotonic clock, so their stamps compare without any offset (docs/latency.md)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
    return hashlib.sha256(f"tradewire {boot}".encode()).hexdigest()[:16]
