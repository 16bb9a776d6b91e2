"""The tick writer: every path (native frames, UDP, TCP lines) hands rows to :meth:`TickWriter.put`
from any thread; the group committer stores everything queued in one fsynced transaction, then
reports back on the event loop (acks, live fan-out). Under load one commit serves many batches;
when idle a batch is committed at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from tradewire.exceptions import StoreError
from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow
from tradewire.store.committer import GroupCommitter
from tradewire.store.ticks import Append, TickStore

log = logging.getLogger(__name__)

MAX_ROWS_PER_COMMIT = 50_000
Stored = tuple[int, bool]  # rows stored, and whether it was a resent batch (stored before)
Done = Callable[[Stored | StoreError], None]  # called on the loop
Committed = Callable[[list[TickColumns]], None]  # every batch newly stored, in order (on the loop)


class TickWriter:
    """Owns the tick store on a thread of its own."""

    def __init__(
        self,
        open_store: Callable[[], TickStore],
        loop: asyncio.AbstractEventLoop,
        on_commit: Committed,
    ) -> None:
        self._open_store = open_store
        self._on_commit = on_commit
        self._committer: GroupCommitter[Append, Stored] = GroupCommitter(
            "ticks",
            self._open,
            loop,
            size=lambda item: len(item[0]),
            max_batch=MAX_ROWS_PER_COMMIT,
            reported=self._committed,
        )
        self.stored_rows = 0

    def _open(self) -> tuple[Callable[[list[Append]], Sequence[Stored]], Callable[[], None]]:
        store = self._open_store()
        return store.append_many, store.close

    @property
    def commits(self) -> int:
        return self._committer.commits

    @property
    def failed_commits(self) -> int:
        return self._committer.failed_commits

    def start(self) -> None:
        self._committer.start()

    def put(
        self,
        ticks: TickColumns | list[TickRow],
        key: tuple[str, str] | None = None,
        done: Done | None = None,
    ) -> None:
        """Queue ticks (checked) for the next commit (thread-safe)."""
        columns = ticks if isinstance(ticks, TickColumns) else TickColumns.from_rows(ticks)
        self._committer.put((columns, key), done)

    async def flush(self) -> None:
        """Wait until everything queued so far is committed (or failed)."""
        await self._committer.flush()

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._committer.stop()

    def _committed(self, items: list[Append], results: Sequence[Stored] | StoreError) -> None:
        if isinstance(results, StoreError):
            log.error("%s", results)
            return
        fresh = [
            columns
            for (columns, _), (_, duplicate) in zip(items, results, strict=True)
            if not duplicate  # a resent batch is neither stored nor published again
        ]
        self.stored_rows += sum(len(columns) for columns in fresh)
        if fresh:
            self._on_commit(fresh)
