"""Logins: per-name throttle, per-source check budget, argon2 verification on worker threads.

The order of a login, each step bounded:

1. the per-name throttle's delay (it holds no shared slot, so a name under attack slows only
   the logins of that name);
2. the source's *check budget*: the ban book is consulted right before each password check,
   and checks in flight count against ``ban.max_failures``, so one source gets at most that
   many checks per window however many connections it opens at once. Extra logins from the
   source wait for a running check to finish, then see its outcome (a ban, usually);
3. one of ``max_pending_logins`` global slots (``server_busy`` beyond), held only while the
   password is checked on one of ``auth_workers`` threads. The event loop never hashes.

A check that has started always completes and is counted, even if its connection is gone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor

from tradewire.clock import Clock
from tradewire.config import Config
from tradewire.exceptions import FrameError
from tradewire.hub.events import Banned, HubEvents, LoginFailed
from tradewire.hub.guard import BanBook, NameGate, NameThrottle
from tradewire.metrics import Metrics
from tradewire.model import BanRecord, UserRecord
from tradewire.store.passwords import Passwords
from tradewire.store.state import StateStore

log = logging.getLogger(__name__)

# Valid user names have at most 64 characters: longer attempted names are cut to this in the
# throttle's table and the audit log, so a flood of 64 KB names costs neither memory nor disk.
NAME_CHARS = 64


class Authenticator:
    """Checks passwords and keeps the ban book and the name throttle up to date."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        clock: Clock,
        metrics: Metrics,
        events: HubEvents,
    ) -> None:
        self._config = config
        self._events = events  # told of each failed login and each ban made here
        self._store = store
        self._clock = clock
        self._passwords = Passwords(config.auth)
        self._pool = ThreadPoolExecutor(config.hub.auth_workers, thread_name_prefix="tw-auth")
        self.bans = BanBook(config.ban, clock)
        self.throttle = NameThrottle(config.ban, clock)
        self.gate = NameGate(config.ban, clock)
        self.pending = 0  # logins holding a global slot (waiting for or in a check)
        self._logins = metrics.counter("tradewire_logins_total", "logins by outcome", ("outcome",))
        self._bans = metrics.counter("tradewire_bans_total", "bans made")
        metrics.gauge("tradewire_logins_pending", "logins in a password check", self._pending)
        self._in_flight: dict[str, int] = {}  # source -> checks running
        self._turns: dict[str, asyncio.Event] = {}  # source -> set when one of them ends

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _pending(self) -> dict[tuple[str, ...], float]:
        return {(): float(self.pending)}

    async def login(self, name: str, password: str, address: str) -> UserRecord | None:
        """The user when ``password`` is right, else ``None`` (failure counted, maybe a ban).

        Raises ``FrameError`` with ``banned`` (the source used its budget) or ``server_busy``.
        Cancelling it before the check starts costs nothing; after, the check still counts.
        """
        source = self.bans.key(address)
        short = name[:NAME_CHARS]
        if not self.gate.known(short, source):  # the user's own address: no cap, no delay
            self._gate(short, address)
            delay = self.throttle.delay_for(short)
            if delay:
                await asyncio.sleep(delay)
        while (left := self.bans.checks_left(address)) <= self._in_flight.get(source, 0):
            if left <= 0:
                self._logins.inc(1, "banned")
                self._store.audit("refused", None, address, "banned")
                retry_after = self.bans.retry_after(address) or self._config.ban.duration_s
                raise FrameError(
                    "banned",
                    "too many failed logins from your address",
                    retry_after_s=max(1, math.ceil(retry_after)),
                )
            # All of this source's checks are in flight: wait for one to end, then look again.
            await self._turns.setdefault(source, asyncio.Event()).wait()
        if self.pending >= self._config.hub.max_pending_logins:
            self._logins.inc(1, "server_busy")
            self._store.audit("refused", None, address, "server_busy: logins pending")
            raise FrameError("server_busy", "too many logins in progress; retry in a moment")
        if not self.gate.known(short, source):  # again, after any wait: the count may be full
            self._gate(short, address)  # now, or the source has won meanwhile
            self.gate.checking(short)
        self.pending += 1
        self._in_flight[source] = self._in_flight.get(source, 0) + 1
        check = asyncio.ensure_future(self._check_and_count(name, password, address, source))
        return await asyncio.shield(check)

    def _gate(self, short: str, address: str) -> None:
        """Refuse (``rate_limited``) a check of ``short`` from a source new to it while the
        name's checks from new sources are used up (hub/guard.py NameGate)."""
        wait_s = self.gate.retry_after(short)
        if wait_s is None:
            return
        self._logins.inc(1, "rate_limited")
        self._store.audit("refused", short, address, "rate_limited: checks of this name")
        raise FrameError(
            "rate_limited",
            f"too many password checks for {short!r} from new addresses; retry later, "
            "or from an address that logged in as this user before",
            retry_after_s=max(1, math.ceil(wait_s)),
        )

    async def _check_and_count(
        self, name: str, password: str, address: str, source: str
    ) -> UserRecord | None:
        try:
            loop = asyncio.get_running_loop()
            user = await loop.run_in_executor(self._pool, self._check, name, password)
            self._count(user, name, address)
            return user
        finally:
            self.pending -= 1
            left = self._in_flight[source] - 1
            if left:
                self._in_flight[source] = left
            else:
                del self._in_flight[source]
            turn = self._turns.pop(source, None)
            if turn is not None:
                turn.set()  # every waiter of this source looks again

    def _count(self, user: UserRecord | None, name: str, address: str) -> None:
        self._logins.inc(1, "ok" if user is not None else "failed")
        if user is not None:  # the source's failures still count: see hub/guard.py
            self.throttle.record_success(name[:NAME_CHARS])
            self.gate.learn(name[:NAME_CHARS], self.bans.key(address))
            self._store.audit("login", name, address)
            log.info("login: %s from %s (%s)", name, address, user.role)
            return
        self.throttle.record_failure(name[:NAME_CHARS])
        ban = self.bans.record_failure(address)
        # The audit names the attempted user (cut short) but never the password.
        self._store.audit("login_failed", name[:NAME_CHARS], address)
        log.info("login failed: %r from %s", name[:NAME_CHARS], address)
        self._events.emit(LoginFailed(address))
        if ban is not None:
            self._banned(ban)
            self._events.emit(Banned(ban))

    def count_failure_elsewhere(self, address: str) -> None:
        """A failed login from ``address`` on another hub counts here too: failures spread
        over hubs add up to the same ban on each."""
        ban = self.bans.record_failure(address)
        if ban is not None:
            self._banned(ban)

    def _banned(self, ban: BanRecord) -> None:
        self._bans.inc()
        log.warning("banning %s until %d ms (offense %d)", ban.address, ban.until_ms, ban.offenses)
        self._store.put_ban(ban)

    def _check(self, name: str, password: str) -> UserRecord | None:  # on a worker thread
        user = self._store.get_user(name)
        if user is not None and user.disabled:
            user = None  # still hashed, so timing does not tell disabled users apart
        ok = self._passwords.verify(user.hash if user else None, password)
        return user if ok else None
