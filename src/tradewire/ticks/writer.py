"""The tick writer thread: group commit. Every path (native frames, UDP, TCP lines) hands rows
to :meth:`TickWriter.put`, from any thread. The thread takes everything queued, stores it in
one fsynced transaction, then reports back on the event loop (acks, live fan-out). Under load
one commit serves many batches; when idle a batch is committed at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from tradewire.exceptions import StoreError
from tradewire.protocol.ticks import TickRow
from tradewire.ticks.store import Append, TickStore

log = logging.getLogger(__name__)

MAX_ROWS_PER_COMMIT = 50_000
Done = Callable[[int | Exception], None]  # rows stored, or why not (called on the loop)
Committed = Callable[[list[TickRow]], None]  # every newly stored row, in order (on the loop)


class TickWriter:
    """Owns the tick store on a thread of its own."""

    def __init__(
        self,
        open_store: Callable[[], TickStore],
        loop: asyncio.AbstractEventLoop,
        on_commit: Committed,
    ) -> None:
        self._open_store = open_store
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[tuple[Append, Done | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="tw-ticks", daemon=True)
        self._ready = threading.Event()
        self._error: Exception | None = None
        self.stored_rows = 0
        self.commits = 0
        self.failed_commits = 0

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def put(
        self, rows: list[TickRow], key: tuple[str, str] | None = None, done: Done | None = None
    ) -> None:
        """Queue rows for the next commit (thread-safe)."""
        self._queue.put(((rows, key), done))

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            store = self._open_store()
        except StoreError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        running = True
        while running:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            rows = len(first[0][0])
            while rows < MAX_ROWS_PER_COMMIT:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    running = False
                    break
                batch.append(item)
                rows += len(item[0][0])
            self._commit(store, batch)
        store.close()

    def _commit(self, store: TickStore, batch: list[tuple[Append, Done | None]]) -> None:
        try:
            results: list[tuple[int, bool]] | Exception = store.append_many(
                [item for item, _ in batch]
            )
        except StoreError as exc:
            log.error("%s", exc)
            self.failed_commits += 1
            results = exc
        fresh: list[TickRow] = []
        if not isinstance(results, Exception):
            self.commits += 1
            for ((rows, _), _), (_, duplicate) in zip(batch, results, strict=True):
                if not duplicate:  # a resent batch is neither stored nor published again
                    fresh.extend(rows)
            self.stored_rows += len(fresh)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._report, batch, results, fresh)

    def _report(
        self,
        batch: list[tuple[Append, Done | None]],
        results: list[tuple[int, bool]] | Exception,
        fresh: list[TickRow],
    ) -> None:
        for index, (_, done) in enumerate(batch):
            if done is not None:
                done(results if isinstance(results, Exception) else results[index][0])
        if fresh:
            self._on_commit(fresh)
