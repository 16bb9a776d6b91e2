"""Bursts of identical refusals, audited once (pure, over an injected clock).

A banned address that reconnects as fast as it can wrote one ``refused`` row per attempt:
72,622 rows in 15 s, which rotated the evidence (``login_failed``, ``ban``) out of a log capped
at ``max_rows`` within minutes. Now the first refusal of an (address, reason) is written at
once; the same refusal again within ``WINDOW_S`` is only counted, and the count is written as one
more row (``refused``, detail ``"<reason> (N more in 10 s)"``) when the burst ends: at most two
rows per address and reason every 10 s, however fast the refusals come.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_S = 10.0
MAX_KEYS = 10_000  # addresses and reasons tracked at once; past that, the oldest is written


@dataclass(slots=True)
class _Burst:
    started: float
    user: str | None
    more: int = 0


Row = tuple[str, str | None, str | None, str]  # event, user, address, detail


class RefusalBursts:
    def __init__(self) -> None:
        self._bursts: dict[tuple[str | None, str], _Burst] = {}

    def refused(self, user: str | None, address: str | None, reason: str, now: float) -> list[Row]:
        """The rows to write for one refusal now (the first of a burst, and any ended ones)."""
        rows = self.ended(now)
        key = (address, reason)
        burst = self._bursts.get(key)
        if burst is not None:
            burst.more += 1
            return rows
        if len(self._bursts) >= MAX_KEYS:
            oldest = next(iter(self._bursts))
            rows += _summary(oldest, self._bursts.pop(oldest))
        self._bursts[key] = _Burst(now, user)
        return [*rows, ("refused", user, address, reason)]

    def ended(self, now: float, everything: bool = False) -> list[Row]:
        """Summary rows of the bursts whose window is over (all of them with ``everything``)."""
        rows: list[Row] = []
        for key in [
            k for k, b in self._bursts.items() if everything or now - b.started >= WINDOW_S
        ]:
            rows += _summary(key, self._bursts.pop(key))
        return rows


def _summary(key: tuple[str | None, str], burst: _Burst) -> list[Row]:
    address, reason = key
    if not burst.more:
        return []
    return [("refused", burst.user, address, f"{reason} ({burst.more} more in {WINDOW_S:g} s)")]
