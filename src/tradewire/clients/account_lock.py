"""One follower per trading account on this machine.

Two followers on one account each read the other's trades as their own and trade against each
other (on a netting account, each one's orders move the position the other manages). The second
one is refused at start, with one line that names the first. The lock is an advisory ``flock``
held for the follower's life, so it goes when the process does, even after ``kill -9``.

It lives next to a paper account's file, and for other brokers under the system's temporary
folder, keyed by the account (an ``mt5:`` login and server, a ``terminal:`` name and hub).
Followers on different machines cannot see each other's lock: there, the runaway breaker stops
the second within three orders (docs/copying.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from tradewire.exceptions import ConfigError


def lock_path(broker_spec: str) -> Path:
    """Where the lock of the account ``broker_spec`` names lives."""
    scheme, _, rest = broker_spec.partition(":")
    if scheme == "paper":
        file = Path(rest.partition("?")[0]).resolve()
        return file.with_name(file.name + ".follow.lock")
    digest = hashlib.sha256(broker_spec.encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "tradewire-locks" / f"{scheme}-{digest}.lock"


class AccountLock:
    """``with AccountLock(spec, who):`` holds the account or raises ConfigError naming the
    follower that does."""

    def __init__(self, broker_spec: str, who: str) -> None:
        self.broker_spec = broker_spec
        self.who = who
        self.path = lock_path(broker_spec)
        self._file: IO[str] | None = None

    def __enter__(self) -> AccountLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = _describe(handle.read())
            handle.close()
            raise ConfigError(
                f"{self.broker_spec} is already followed by {other}: one follower per account "
                "(two would trade against each other): stop that one first (docs/copying.md)"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        handle.write(json.dumps({"pid": os.getpid(), "who": self.who, "since": started}))
        handle.flush()
        self._file = handle
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"{holder['who']} (pid {holder['pid']}, since {holder['since']})"
    except (ValueError, KeyError, TypeError):
        return "another follower"
