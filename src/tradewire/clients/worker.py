"""``tradewire worker``: runs tasks of shared-computation jobs (docs/jobs.md).

A task names a function ``module:name``; the worker runs it only when the module is one it was
told to trust (``--trust``) and the function is marked as a task function
(``tradewire.jobs.registry``): code is never sent over the wire, and nothing else a trusted
module holds can be called. The function gets the task's payload (decoded JSON) and returns a
JSON value. An exception, a result that is not JSON, or a function not allowed fails only that
task (the hub retries it up to the job's max_attempts); the error sent back carries a
``TaskError``'s message, and of any other exception only its type (its message may quote a
file: it stays in the worker's log). The lease is extended while the function runs; functions
run on a thread, one task at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from typing import Any, cast

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.jobs.registry import TaskError, TaskNotAllowed, is_task_function
from tradewire.protocol.messages import LeasedTask, TaskExtend, TaskLease, TaskResult, Tasks

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, client: HubClient, trusted: list[str]) -> None:
        self._client = client
        self.trusted = [t.strip() for t in trusted if t.strip()]
        self.done = 0
        self.failed = 0

    def resolve(self, fn: str) -> Callable[[Any], Any]:
        """The task function ``module:name`` names; ``TaskNotAllowed`` for anything else."""
        module, _, name = fn.partition(":")
        if not any(module == t or module.startswith(t + ".") for t in self.trusted):
            raise TaskNotAllowed(f"module {module} is not trusted by this worker (--trust)")
        target = getattr(importlib.import_module(module), name, None)
        if target is None or not is_task_function(target):
            raise TaskNotAllowed(f"{fn} is not a task function (tradewire.jobs.registry)")
        return cast(Callable[[Any], Any], target)

    async def run(self, limit: int | None = None) -> None:
        """Lease and run tasks until cancelled (or ``limit`` tasks have run)."""
        while limit is None or self.done + self.failed < limit:
            try:
                leased = await self._client.request(TaskLease(max=1, wait_ms=20_000))
            except ConnectionLost:
                continue  # the client reconnects by itself
            assert isinstance(leased, Tasks)
            for task in leased.tasks:
                await self._run_one(task)

    async def _run_one(self, task: LeasedTask) -> None:
        extender = asyncio.get_running_loop().create_task(self._keep_leased(task))
        try:
            ok, value, error = await self._call(task)
        finally:
            extender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extender
        if ok and len(value) + 200 > self._client.max_frame_bytes:
            error = f"a result of {len(value)} bytes does not fit in one frame"
            ok, value = False, msgspec.Raw(b"null")
        frame = TaskResult(job=task.job, task=task.task, ok=ok, value=value, error=error[:2000])
        while True:
            try:
                await self._client.request(frame)
                break
            except ConnectionLost:
                await asyncio.sleep(0.2)  # sent again after the reconnect: stored once
            except HubRefused as exc:
                log.warning("result of %s/%d refused: %s", task.job, task.task, exc)
                break
        if ok:
            self.done += 1
        else:
            self.failed += 1

    async def _call(self, task: LeasedTask) -> tuple[bool, msgspec.Raw, str]:
        try:
            fn = self.resolve(task.fn)
            payload = msgspec.json.decode(task.payload)
            result = await asyncio.to_thread(fn, payload)
            return True, msgspec.Raw(msgspec.json.encode(result)), ""
        except Exception as exc:  # the task fails, the worker goes on
            log.info("task %s/%d failed: %s: %s", task.job, task.task, type(exc).__name__, exc)
            if isinstance(exc, TaskError):  # messages written for submitters
                return False, msgspec.Raw(b"null"), f"{type(exc).__name__}: {exc}"
            return (
                False,
                msgspec.Raw(b"null"),
                f"{type(exc).__name__} (details in the worker's log)",
            )

    async def _keep_leased(self, task: LeasedTask) -> None:
        while True:
            await asyncio.sleep(max(task.lease_s / 3, 0.5))
            with contextlib.suppress(ConnectionLost, HubRefused):
                await self._client.request(TaskExtend(job=task.job, task=task.task))
