"""Password-guessing protection, as pure logic over an injected clock (no I/O).

* :class:`BanBook`: failures counted per source address in a sliding window; ``max_failures``
  within ``window_s`` bans the address for ``duration_s``, doubling for each repeat offense up
  to ``max_duration_s``. Exempt networks are never banned (loopback only if configured).
* :class:`NameThrottle`: per user name, across addresses: past ``name_throttle_after`` failures
  within the window, each further check of that name is delayed (doubling from ``name_delay_s``
  up to ``name_max_delay_s``). A delay, never a refusal, so the real user always gets in.
"""

from __future__ import annotations

from collections import deque

from tradewire.clock import Clock
from tradewire.config import BanSettings
from tradewire.hub.addresses import AddressList
from tradewire.store.db import BanRecord

_MAX_TRACKED = 100_000  # addresses or names with recent failures held in memory at most


class BanBook:
    """Which addresses are banned, and which failure makes the next ban."""

    def __init__(self, settings: BanSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock
        self._exempt = AddressList(settings.exempt)
        self._failures: dict[str, deque[float]] = {}
        self._bans: dict[str, BanRecord] = {}

    def load(self, bans: list[BanRecord]) -> None:
        """Merge bans read from the database (at start, then periodically).

        The database wins for the same offense count, so ``tradewire ban lift`` (which keeps
        the count and ends the ban) reaches a running hub; a ban this hub made and has not yet
        stored has a higher count and is kept.
        """
        for ban in bans:
            known = self._bans.get(ban.address)
            if known is None or ban.offenses >= known.offenses:
                self._bans[ban.address] = ban

    def is_exempt(self, address: str) -> bool:
        return address in self._exempt

    def retry_after(self, address: str) -> float | None:
        """Seconds until the ban of ``address`` ends, or ``None`` when it is not banned."""
        ban = self._bans.get(address)
        if ban is None:
            return None
        left = ban.until_ms / 1000 - self._clock.time()
        return left if left > 0 else None

    def record_failure(self, address: str) -> BanRecord | None:
        """Count one failed login; return the new ban to persist if this one makes it."""
        if self.is_exempt(address):
            return None
        now = self._clock.time()
        window = self._failures.get(address)
        if window is None:
            if len(self._failures) >= _MAX_TRACKED:
                self.prune()
            window = self._failures[address] = deque()
        window.append(now)
        while window and window[0] <= now - self._s.window_s:
            window.popleft()
        if len(window) < self._s.max_failures:
            return None
        del self._failures[address]
        previous = self._bans.get(address)
        offenses = (previous.offenses if previous else 0) + 1
        duration = min(self._s.duration_s * 2 ** (offenses - 1), self._s.max_duration_s)
        ban = BanRecord(address, int((now + duration) * 1000), offenses)
        self._bans[address] = ban
        return ban

    def record_success(self, address: str) -> None:
        """A good login clears that address's failure count (not its offense history)."""
        self._failures.pop(address, None)

    def lift(self, address: str) -> None:
        ban = self._bans.get(address)
        if ban is not None:
            self._bans[address] = BanRecord(address, 0, ban.offenses)

    def prune(self) -> None:
        """Forget failure windows that have expired."""
        horizon = self._clock.time() - self._s.window_s
        for address in [a for a, w in self._failures.items() if not w or w[-1] <= horizon]:
            del self._failures[address]


class NameThrottle:
    """Slows password checks of a user name that many failures were aimed at."""

    def __init__(self, settings: BanSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, name: str) -> int:
        window = self._failures.get(name)
        if window is None:
            return 0
        horizon = self._clock.time() - self._s.window_s
        while window and window[0] <= horizon:
            window.popleft()
        if not window:
            del self._failures[name]
            return 0
        return len(window)

    def delay_for(self, name: str) -> float:
        """Seconds to wait before checking a password for ``name`` (0 when not throttled)."""
        excess = self._recent(name) - self._s.name_throttle_after
        if excess < 0:
            return 0.0
        return float(min(self._s.name_delay_s * 2 ** excess, self._s.name_max_delay_s))

    def record_failure(self, name: str) -> None:
        if name not in self._failures and len(self._failures) >= _MAX_TRACKED:
            for stale in [n for n in self._failures if self._recent(n) == 0]:
                self._failures.pop(stale, None)
            if len(self._failures) >= _MAX_TRACKED:  # still full: drop the oldest entry
                self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(name, deque()).append(self._clock.time())

    def record_success(self, name: str) -> None:
        self._failures.pop(name, None)
