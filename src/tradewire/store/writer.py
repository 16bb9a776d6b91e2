"""The state store's writer: operations from the event loop, group-committed on one thread
(:class:`~tradewire.store.committer.GroupCommitter`), outcomes back on the loop in order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from tradewire.store.committer import GroupCommitter
from tradewire.store.db import StateDB

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], object]
Done = Callable[[object], None]  # receives the op's result, or the exception it raised

MAX_OPS_PER_COMMIT = 10_000


class BatchWriter:
    """Runs state store operations on a dedicated thread, many per transaction."""

    def __init__(self, db: StateDB) -> None:
        self._committer: GroupCommitter[Op, object] = GroupCommitter(
            "writer",
            lambda: (db.run_batch, lambda: None),  # the db closes its own connections
            asyncio.get_running_loop(),
            max_batch=MAX_OPS_PER_COMMIT,
        )
        self._committer.start()

    def submit(self, op: Op, done: Done | None = None) -> None:
        """Queue ``op``; ``done`` is called on the loop with its result or exception (a
        :class:`StoreError` if the commit failed, or once the writer is closed)."""
        self._committer.put(op, done)

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed (or failed)."""
        await self._committer.flush()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run a read ``fn`` on the writer thread (keeps SQLite off the loop)."""
        return await self._committer.call(fn)

    def close(self) -> None:
        self._committer.stop()
