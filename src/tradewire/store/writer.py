"""Group commit from the event loop: store operations run on one writer thread, in batches.

While a batch commits on the writer thread, new operations gather into the next batch, so under
load one commit serves many operations, and the event loop never waits on SQLite or fsync.
Completion callbacks run on the loop in submission order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tradewire.exceptions import StoreError
from tradewire.store.db import StateDB

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], object]
Done = Callable[[object], None]  # receives the op's result, or the exception it raised


class BatchWriter:
    """Runs store operations on a dedicated thread, many per transaction."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tw-writer")
        self._pending: list[tuple[Op, Done | None]] = []
        self._running: asyncio.Future[list[object]] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def submit(self, op: Op, done: Done | None = None) -> None:
        """Queue ``op``; ``done`` is called on the loop with its result or exception (a
        :class:`StoreError` once the writer is closed)."""
        if self._closed:
            if done is not None:
                done(StoreError("the store is closed"))
            return
        self._pending.append((op, done))
        self._idle.clear()
        if self._running is None:
            self._start()

    def _start(self) -> None:
        batch, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        ops = [op for op, _ in batch]
        self._running = loop.run_in_executor(self._executor, self._db.run_batch, ops)
        self._running.add_done_callback(lambda fut: self._finish(batch, fut))

    def _finish(
        self, batch: list[tuple[Op, Done | None]], fut: asyncio.Future[list[object]]
    ) -> None:
        self._running = None
        exc = fut.exception()
        results: list[object] = [exc] * len(batch) if exc is not None else fut.result()
        for (_, done), result in zip(batch, results, strict=True):
            if done is not None:
                done(result)
        if self._pending:
            self._start()
        else:
            self._idle.set()

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed (or failed)."""
        await self._idle.wait()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run a read ``fn`` on the writer thread (keeps SQLite off the loop)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)
