"""A token bucket per session: the one rate limit every service that accepts a flood-prone
frame (relay messages, and the article-idea services after it) applies."""

from __future__ import annotations

from weakref import WeakKeyDictionary


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up. Pure: the caller passes the time."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = float(burst), now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class SessionBuckets:
    """One bucket per live session (forgotten with the session object)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: WeakKeyDictionary[object, TokenBucket] = WeakKeyDictionary()

    def take(self, session: object, now: float) -> float:
        bucket = self._buckets.get(session)
        if bucket is None:
            bucket = self._buckets[session] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)
