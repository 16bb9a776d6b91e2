"""Exponential backoff with jitter for reconnects (pure; the caller sleeps)."""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * 2**n`` capped at ``maximum``, each scaled by a random factor in
    [0.5, 1.0] so that many clients dropped at once do not reconnect in lockstep."""

    def __init__(
        self, initial: float = 0.1, maximum: float = 10.0, rng: random.Random | None = None
    ) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the base."""
        base = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 60))
        self.attempt += 1
        return base * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """A connection succeeded: start again from ``initial``."""
        self.attempt = 0
