"""Password-guessing protection, as pure logic over an injected clock (no I/O).

* :class:`BanBook`: failures counted per source address in a sliding window; ``max_failures``
  within ``window_s`` bans the address for ``duration_s``, doubling for each repeat offense up
  to ``max_duration_s``. A successful login does not clear the count: an attacker holding one
  account could otherwise log in as it between guesses at every other name, and never be banned.
  The count covers every name tried from the source, so each (source, name) is bounded by it
  too. Exempt networks are never banned (loopback only if configured).
* :class:`NameThrottle`: per user name, across addresses: past ``name_throttle_after`` failures
  within the window, each further check of that name is delayed (doubling from ``name_delay_s``
  up to ``name_max_delay_s``).
* :class:`NameGate`: per user name, at most ``name_max_checks`` password checks per window from
  sources that never logged in as that user; more are refused before any hashing. A source that
  did log in as the user (learnt at each good login, and at start from the audit log) is never
  held up by it, nor by the throttle's delay: that is the real user's way in while many
  addresses guess at the name.

Addresses are counted and banned by *source*: an IPv4 address (``ipv4_prefix`` = 32) or an IPv6
/64 (``ipv6_prefix``), since one IPv6 host usually holds a whole /64. :func:`source_key` maps an
address to the string the ban table stores.
"""

from __future__ import annotations

import ipaddress
from collections import deque

from tradewire.clock import Clock
from tradewire.config import BanSettings
from tradewire.hub.addresses import AddressList
from tradewire.model import BanRecord

_MAX_TRACKED = 100_000  # addresses or names with recent failures held in memory at most
_MAX_EXPONENT = 32  # 2**32 * any delay is far past name_max_delay_s; beyond it floats overflow


def source_key(address: str, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str:
    """The source an address belongs to: itself for IPv4 /32, else its network (``a::/64``).

    IPv4-mapped IPv6 addresses count as IPv4; a string that is no address is its own key.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    if prefix == ip.max_prefixlen:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class BanBook:
    """Which addresses are banned, and which failure makes the next ban."""

    def __init__(self, settings: BanSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock
        self._exempt = AddressList(settings.exempt)
        self._failures: dict[str, deque[float]] = {}
        self._bans: dict[str, BanRecord] = {}
        self._keys: dict[str, str] = {}

    def key(self, address: str) -> str:
        """The source (address or network) ``address`` is counted and banned as."""
        known = self._keys.get(address)
        if known is None:
            known = source_key(address, self._s.ipv4_prefix, self._s.ipv6_prefix)
            if len(self._keys) >= _MAX_TRACKED:
                self._keys.clear()
            self._keys[address] = known
        return known

    def load(self, bans: list[BanRecord]) -> list[BanRecord]:
        """Merge bans read from the database (at start, then periodically).

        The database wins for the same offense count, so ``tradewire ban lift`` (which keeps
        the count and ends the ban) reaches a running hub; a ban this hub made and has not yet
        stored has a higher count and is kept. Returns the bans taken.
        """
        taken = []
        for ban in bans:
            known = self._bans.get(ban.address)
            if known is None or ban.offenses >= known.offenses:
                self._bans[ban.address] = ban
                taken.append(ban)
        return taken

    def checks_left(self, address: str) -> int:
        """How many password checks ``address`` may still start in this window: the ban is
        consulted before each check, and checks in flight count against it (the caller's)."""
        if self.is_exempt(address):
            return self._s.max_failures
        if self.retry_after(address) is not None:
            return 0
        window = self._failures.get(self.key(address))
        if window is None:
            return self._s.max_failures
        horizon = self._clock.time() - self._s.window_s
        while window and window[0] <= horizon:
            window.popleft()
        return self._s.max_failures - len(window)

    def is_exempt(self, address: str) -> bool:
        return address in self._exempt

    def retry_after(self, address: str) -> float | None:
        """Seconds until the ban of ``address`` ends, or ``None`` when it is not banned."""
        ban = self._bans.get(self.key(address))
        if ban is None:
            return None
        left = ban.until_ms / 1000 - self._clock.time()
        return left if left > 0 else None

    def record_failure(self, address: str) -> BanRecord | None:
        """Count one failed login; return the new ban to persist if this one makes it."""
        if self.is_exempt(address):
            return None
        address = self.key(address)
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

    def active(self) -> list[BanRecord]:
        """Bans in force now."""
        now_ms = self._clock.time() * 1000
        return sorted(
            (b for b in self._bans.values() if b.until_ms > now_ms), key=lambda b: b.address
        )

    def lift(self, address: str) -> None:
        key = self.key(address)
        ban = self._bans.get(key)
        if ban is not None:
            self._bans[key] = BanRecord(key, 0, ban.offenses)

    def prune(self) -> None:
        """Forget failure windows and bans that have expired."""
        now = self._clock.time()
        horizon = now - self._s.window_s
        for address in [a for a, w in self._failures.items() if not w or w[-1] <= horizon]:
            del self._failures[address]
        # An expired ban still carries the offense count that doubles the next one, for as
        # long as the database keeps it (see StateDB.prune_bans).
        memory_ms = (now - self._s.max_duration_s) * 1000
        for address in [a for a, b in self._bans.items() if 0 < b.until_ms < memory_ms]:
            del self._bans[address]


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
        exponent = min(excess, _MAX_EXPONENT)
        return float(min(self._s.name_delay_s * 2**exponent, self._s.name_max_delay_s))

    def record_failure(self, name: str) -> None:
        if name not in self._failures and len(self._failures) >= _MAX_TRACKED:
            for stale in [n for n in self._failures if self._recent(n) == 0]:
                self._failures.pop(stale, None)
            if len(self._failures) >= _MAX_TRACKED:  # still full: drop the oldest entry
                self._failures.pop(next(iter(self._failures)))
        # Bounded: counts past the exponent cap change nothing, so they are not kept.
        limit = self._s.name_throttle_after + _MAX_EXPONENT + 1
        self._failures.setdefault(name, deque(maxlen=limit)).append(self._clock.time())

    def record_success(self, name: str) -> None:
        self._failures.pop(name, None)


class NameGate:
    """Caps the checks of one user name from sources that never logged in as that user."""

    def __init__(self, settings: BanSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock
        self._known: dict[str, set[str]] = {}  # name -> sources that logged in as it
        self._checks: dict[str, deque[float]] = {}  # name -> checks from other sources

    def known(self, name: str, source: str) -> bool:
        return source in self._known.get(name, ())

    def learn(self, name: str, source: str) -> None:
        """``source`` logged in as ``name``: from now on it is the user's own."""
        if name not in self._known and len(self._known) >= _MAX_TRACKED:
            self._known.pop(next(iter(self._known)))
        sources = self._known.setdefault(name, set())
        if len(sources) < 64:  # a user's devices, not an unbounded set
            sources.add(source)

    def retry_after(self, name: str) -> float | None:
        """Seconds until an unknown source may have ``name`` checked again, or None (now)."""
        window = self._checks.get(name)
        if window is None:
            return None
        horizon = self._clock.time() - self._s.window_s
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) < self._s.name_max_checks:
            return None
        return window[0] - horizon

    def checking(self, name: str) -> None:
        """An unknown source's check of ``name`` starts (counted before the hashing)."""
        if name not in self._checks and len(self._checks) >= _MAX_TRACKED:
            self._checks.pop(next(iter(self._checks)))
        window = self._checks.setdefault(name, deque(maxlen=self._s.name_max_checks))
        window.append(self._clock.time())
