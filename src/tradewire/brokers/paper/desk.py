"""What the paper accounts of one process share: a few SQLite threads and one watcher.

A copy engine opens hundreds of paper accounts. A thread and a poller of their own each would
make hundreds of threads fight for the GIL and thousands of thread hops a second (measured: the
fill hop of 100 accounts took 275 ms at p50 so). Instead one thread does every account's SQLite
work, taking whatever is queued at once and answering it in one wake of the event loop; and one
task looks, five times a second and in one hop for all, whether another process changed an
account's file (``PRAGMA data_version``). SQLite runs without the GIL, so that thread works
alongside the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")
POLL_S = 0.2


class Watched(Protocol):
    lock: threading.Lock

    def changed_elsewhere(self) -> object | None:
        """On a desk thread, under ``lock``: what changed since the last look, or None."""
        ...

    async def take_change(self, change: object) -> None:
        """On the loop: take what ``changed_elsewhere`` found."""
        ...


Call = tuple[Watched, Callable[..., object], tuple[object, ...], "asyncio.Future[object]"]


class PaperDesk:
    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._accounts: set[Watched] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._queue: list[Call] = []
        self._queue_lock = threading.Lock()
        self._draining = False

    async def run(self, account: Watched, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` on the desk's thread, after what is queued already."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="tw-paper")
        future: asyncio.Future[object] = loop.create_future()
        with self._queue_lock:
            self._queue.append((account, fn, args, future))
            start = not self._draining
            self._draining = True
        if start:
            loop.run_in_executor(self._executor, self._drain, loop)
        return await future  # type: ignore[return-value]

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the desk's thread: run the queue until it is empty, answering each batch."""
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._draining = False
                    return
            answers: list[tuple[asyncio.Future[object], object, BaseException | None]] = []
            for account, fn, args, future in batch:
                try:
                    with account.lock:
                        answers.append((future, fn(*args), None))
                except BaseException as exc:  # handed to the caller, as run_in_executor does
                    answers.append((future, None, exc))
            loop.call_soon_threadsafe(_answer, answers)

    def watch(self, account: Watched) -> None:
        self._accounts.add(account)
        loop = asyncio.get_running_loop()
        if self._watcher is None or self._watcher.done() or self._watcher.get_loop() is not loop:
            self._watcher = loop.create_task(self._watch())

    async def unwatch(self, account: Watched) -> None:
        self._accounts.discard(account)
        if not self._accounts and self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._watcher  # RuntimeError: a task of another (closed) loop
            self._watcher = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            accounts = list(self._accounts)
            if self._executor is None or not accounts:
                continue
            changes = await asyncio.get_running_loop().run_in_executor(
                self._executor, _look, accounts
            )
            for account, change in changes:
                await account.take_change(change)


def _answer(answers: list[tuple[asyncio.Future[object], object, BaseException | None]]) -> None:
    for future, result, error in answers:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _look(accounts: list[Watched]) -> list[tuple[Watched, object]]:
    changes = []
    for account in accounts:
        with account.lock:
            change = account.changed_elsewhere()
        if change is not None:
            changes.append((account, change))
    return changes


DESK = PaperDesk()  # one per process
