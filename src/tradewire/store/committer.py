"""Group commit, once for every store: items queued from any thread, committed on one thread in
batches, each outcome reported on the event loop in the order the items were queued.

While one batch commits, new items gather for the next, so under load one commit (one fsync)
serves many items and the event loop never waits on the database. The store is opened on the
committer's own thread (SQLite connections belong to one thread) and reads can run there too
(:meth:`GroupCommitter.call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from tradewire.exceptions import StoreError

Item = TypeVar("Item")
Result = TypeVar("Result")
T = TypeVar("T")

_Entry = tuple[Item, Callable[[Any], None] | None]  # an item and who wants its result
# Store items in one transaction: one result per item, or StoreError when the commit failed.
Commit = Callable[[list[Item]], Sequence[Result]]
Reported = Callable[[list[Item], Sequence[Result] | StoreError], None]  # after each batch


# Every committer alive, for the writer metrics (queue depth, commit time) of /metrics.
LIVE: weakref.WeakSet[GroupCommitter[Any, Any]] = weakref.WeakSet()


class GroupCommitter(Generic[Item, Result]):
    def __init__(
        self,
        name: str,
        open_commit: Callable[[], tuple[Commit[Item, Result], Callable[[], None]]],
        loop: asyncio.AbstractEventLoop,
        size: Callable[[Item], int] = lambda item: 1,
        max_batch: int = 50_000,
        reported: Reported[Item, Result] | None = None,
    ) -> None:
        """``open_commit`` runs on the committer thread and returns (commit, close)."""
        self._open_commit = open_commit
        self._loop = loop
        self._size = size
        self._max_batch = max_batch
        self._reported = reported
        self._queue: queue.SimpleQueue[_Entry[Item] | Callable[[], None] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=f"tw-{name}", daemon=True)
        self._ready = threading.Event()
        self._error: StoreError | None = None
        self._closed = False
        self.name = name
        self.commits = 0
        self.failed_commits = 0
        self.commit_seconds = 0.0  # all commits together (with ``commits``: the mean)
        LIVE.add(self)

    def start(self) -> None:
        """Open the store on the committer thread; raises its StoreError."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    @property
    def queued(self) -> int:
        """Items and reads waiting for the committer thread (the writer's queue depth)."""
        return self._queue.qsize()

    def put(self, item: Item, done: Callable[[Result | StoreError], None] | None = None) -> None:
        """Queue ``item`` (any thread); ``done`` gets its result on the loop, or StoreError."""
        if self._closed:
            if done is not None:
                done(StoreError("the store is closed"))
            return
        self._queue.put((item, done))

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a read) on the committer thread, between commits."""
        future: asyncio.Future[T] = self._loop.create_future()

        def run() -> None:
            try:
                result = fn()
            except Exception as exc:  # handed to the awaiting coroutine
                self._loop.call_soon_threadsafe(_settle_error, future, exc)
            else:
                self._loop.call_soon_threadsafe(_settle, future, result)

        self._queue.put(run)
        return await future

    async def flush(self) -> None:
        """Wait until everything queued so far is committed (or failed) and reported."""
        await self.call(lambda: None)

    def stop(self) -> None:
        """Commit what is queued, then end the thread (blocking: call it off the loop)."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    # ---- the committer thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            commit, close = self._open_commit()
        except StoreError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while self._serve(commit):
                pass
        finally:
            close()

    def _serve(self, commit: Commit[Item, Result]) -> bool:
        """One batch (or one read); False once asked to stop."""
        first = self._queue.get()
        if first is None:
            return False
        if callable(first):
            first()
            return True
        batch, size = [first], self._size(first[0])
        after: Callable[[], None] | None = None
        running = True
        while size < self._max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                running = False
                break
            if callable(more):
                after = more  # a read sees everything queued before it committed
                break
            batch.append(more)
            size += self._size(more[0])
        self._commit(commit, batch)
        if after is not None:
            after()
        return running

    def _commit(self, commit: Commit[Item, Result], batch: list[_Entry[Item]]) -> None:
        items = [item for item, _ in batch]
        started = time.perf_counter()
        try:
            results: Sequence[Result] | StoreError = commit(items)
            self.commits += 1
            self.commit_seconds += time.perf_counter() - started
        except StoreError as exc:
            self.failed_commits += 1
            results = exc
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._report, batch, items, results)

    # ---- back on the loop ---------------------------------------------------------------------

    def _report(
        self,
        batch: list[_Entry[Item]],
        items: list[Item],
        results: Sequence[Result] | StoreError,
    ) -> None:
        for index, (_, done) in enumerate(batch):
            if done is not None:
                done(results if isinstance(results, StoreError) else results[index])
        if self._reported is not None:
            self._reported(items, results)


def _settle(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _settle_error(future: asyncio.Future[T], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
