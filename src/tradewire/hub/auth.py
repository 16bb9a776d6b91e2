"""Logins: ban check, per-name throttle, argon2 verification on bounded worker threads.

The event loop never hashes: checks run on ``auth_workers`` threads, and at most
``max_pending_logins`` may wait for one; beyond that :meth:`Authenticator.login` raises
``FrameError("server_busy")`` instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from tradewire.clock import Clock, now_ms
from tradewire.config import Config
from tradewire.exceptions import FrameError
from tradewire.hub.guard import BanBook, NameThrottle
from tradewire.store.db import StateDB, UserRecord
from tradewire.store.passwords import Passwords
from tradewire.store.writer import BatchWriter

log = logging.getLogger(__name__)


class Authenticator:
    """Checks passwords and keeps the ban book and the name throttle up to date."""

    def __init__(self, config: Config, db: StateDB, writer: BatchWriter, clock: Clock) -> None:
        self._config = config
        self._db = db
        self._writer = writer
        self._clock = clock
        self._passwords = Passwords(config.auth)
        self._pool = ThreadPoolExecutor(config.hub.auth_workers, thread_name_prefix="tw-auth")
        self.bans = BanBook(config.ban, clock)
        self.throttle = NameThrottle(config.ban, clock)
        self.pending = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def login(self, name: str, password: str, address: str) -> UserRecord | None:
        """The user when ``password`` is right, else ``None`` (failure counted, maybe a ban).

        Raises ``FrameError("server_busy")`` when too many logins are already waiting.
        """
        if self.pending >= self._config.hub.max_pending_logins:
            raise FrameError("server_busy", "too many logins in progress; retry in a moment")
        self.pending += 1
        try:
            delay = self.throttle.delay_for(name)
            if delay:
                await asyncio.sleep(delay)
            loop = asyncio.get_running_loop()
            user = await loop.run_in_executor(self._pool, self._check, name, password)
        finally:
            self.pending -= 1
        stamp = now_ms(self._clock)
        if user is not None:
            self.bans.record_success(address)
            self.throttle.record_success(name)
            self._writer.submit(StateDB.audit_op(stamp, "login", name, address, None))
            return user
        self.throttle.record_failure(name)
        ban = self.bans.record_failure(address)
        # The audit names the attempted user but never the password.
        self._writer.submit(StateDB.audit_op(stamp, "login_failed", name, address, None))
        if ban is not None:
            log.warning("banning %s until %d ms (offense %d)", address, ban.until_ms,
                        ban.offenses)
            self._writer.submit(StateDB.put_ban_op(ban, stamp))
        return None

    def _check(self, name: str, password: str) -> UserRecord | None:  # on a worker thread
        user = self._db.get_user(name)
        ok = self._passwords.verify(user.hash if user else None, password)
        return user if ok else None
