"""One hub's jobs (hub/services/jobs/backend.py): the queue in memory (queue.py beside it),
every change stored in jobs.db (store/jobs.py) before it is acknowledged, so a job survives a
restart and each task's result is stored once."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets

import msgspec

from tradewire.clock import Clock, now_ms
from tradewire.hub.service import Session
from tradewire.hub.services.jobs.backend import JobView
from tradewire.hub.services.jobs.queue import Failed, Job, JobQueue
from tradewire.metrics import Metrics
from tradewire.protocol.messages import JobSubmit, LeasedTask, TaskOutcome
from tradewire.store import jobs as ops
from tradewire.store.jobs import JobStore

SWEEP_S = 0.2  # how often expired leases are looked for


class LocalJobs:
    sweep_s = SWEEP_S

    def __init__(self, store: JobStore, clock: Clock, metrics: Metrics) -> None:
        self.store = store
        self.queue = JobQueue()
        self._clock = clock
        self._open: collections.Counter[str] = collections.Counter()  # unfinished, per owner
        self._arrived = asyncio.Event()  # set (and replaced) when tasks may be taken
        self._finished = metrics.counter(
            "tradewire_job_tasks_total", "tasks finished, by outcome", ("outcome",)
        )
        metrics.gauge("tradewire_job_tasks_waiting", "tasks waiting for a worker", self._waiting)

    def job(self, job_id: str) -> Job | None:
        return self.queue.jobs.get(job_id)

    def jobs(self) -> list[JobView]:
        return list(self.queue.jobs.values())

    def held_by(self, owner: str) -> tuple[int, int]:
        return self.queue.open_bytes.get(owner, 0), self._open[owner]

    async def load(self) -> None:
        """Unfinished work from jobs.db (leases are gone: their tasks wait again)."""
        for stored in await self.store.call(ops.load_jobs):
            job = Job(stored.id, stored.owner, stored.fn, stored.max_attempts, stored.lease_s)
            job.n, job.done, job.failed = stored.n, stored.done, stored.failed
            job.status = stored.status
            tasks = {index: payload for index, _, payload in stored.open_tasks}
            if job.status == "running":
                self._open[job.owner] += 1
            self.queue.add(job, tasks, {index: tries for index, tries, _ in stored.open_tasks})

    async def create(self, owner: str, frame: JobSubmit, size: int) -> Job:
        job = Job(secrets.token_hex(8), owner, frame.fn, frame.max_attempts, frame.lease_s)
        job.n = len(frame.tasks)
        stored = ops.StoredJob(
            job.id, owner, job.fn, job.n, job.max_attempts, job.lease_s, "running", 0, 0, []
        )
        payloads = [bytes(t) for t in frame.tasks]
        _raise(await self._commit(ops.add_job(stored, payloads, now_ms(self._clock))))
        self._open[owner] += 1
        self.queue.add(job, dict(enumerate(payloads)))
        self._check_finished(job)
        self._wake()
        return job

    async def add(self, job: JobView, tasks: list[msgspec.Raw], size: int) -> Job:
        mine = self.queue.jobs[job.id]
        # the indexes are taken now: another add meanwhile gets the next ones
        first, payloads = mine.n, [bytes(t) for t in tasks]
        mine.n += len(payloads)
        _raise(await self._commit(ops.add_tasks(mine.id, first, payloads)))
        self.queue.add(mine, {first + i: p for i, p in enumerate(payloads)})
        self._wake()
        return mine

    async def cancel(self, job: JobView) -> None:
        mine = self.queue.jobs[job.id]
        if mine.status != "running":
            return
        self._open[mine.owner] -= 1
        self.queue.cancel(mine.id)
        _raise(await self._commit(ops.set_status(mine.id, "cancelled", now_ms(self._clock))))

    async def results(self, job: JobView, offset: int, limit: int) -> list[TaskOutcome]:
        rows = await self.store.call(lambda db: ops.results(db, job.id, offset, limit))
        return [
            TaskOutcome(i, state == "done", msgspec.Raw(value or b"null"), error, tries)
            for i, state, value, error, tries in rows
        ]

    async def leased(self, job: JobView) -> int:
        return sum(1 for lease in self.queue.leases.values() if lease.job.id == job.id)

    async def take(self, worker: Session, most: int) -> list[LeasedTask]:
        tasks = []
        for lease in self.queue.take(worker, self._clock.monotonic(), most):
            job = lease.job
            self.store.submit(ops.count_attempt(job.id, lease.task))
            payload = msgspec.Raw(job.payloads[lease.task])
            tasks.append(
                LeasedTask(job.id, lease.task, job.fn, payload, lease.attempt, job.lease_s)
            )
        return tasks

    async def wait(self, seconds: float) -> None:
        arrived = self._arrived
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await arrived.wait()

    async def extend(self, worker: Session, job_id: str, task: int) -> bool:
        return self.queue.extend(worker, job_id, task, self._clock.monotonic())

    async def finish(
        self, worker: Session, job_id: str, task: int, ok: bool, value: bytes, error: str
    ) -> int:
        if not self.queue.is_open(job_id, task):
            return 0  # finished already: stored once
        if not ok:
            failed = self.queue.retry_or_fail(job_id, task, error or "failed")
            if failed is not None:
                self._store_failure(failed)
            self._wake()
            return 0
        job = self.queue.jobs[job_id]
        self.queue.finish(job_id, task, True)
        result = await self._commit(ops.finish_task(job.id, task, True, value, ""))
        self._finished.inc(1, "done")
        self._check_finished(job)
        return int(result) if isinstance(result, int) else 0

    def release(self, worker: Session) -> None:
        self.queue.release(worker)
        self._wake()

    def prune(self, finished_before_ms: int) -> None:
        def pruned(gone: object) -> None:
            for job_id in gone if isinstance(gone, list) else ():
                self.queue.jobs.pop(job_id, None)

        self.store.submit(ops.prune(finished_before_ms), pruned)

    async def sweep(self) -> None:
        """Expired leases: their tasks go back, or fail once out of attempts."""
        for failed in self.queue.expired(self._clock.monotonic()):
            self._store_failure(failed)
        if self.queue.waiting:
            self._wake()

    # ---- helpers -------------------------------------------------------------------------------

    def _wake(self) -> None:
        """Wake every long-poll now waiting; later ones wait for the next change."""
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def _commit(self, op: ops.Op) -> object:
        """Store ``op`` (group-committed off the loop); its result, or the exception."""
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()

        def stored(result: object) -> None:
            if not done.done():
                done.set_result(result)

        self.store.submit(op, stored)
        return await done

    def _store_failure(self, failed: Failed) -> None:
        self.queue.finish(failed.job.id, failed.task, False)
        self._finished.inc(1, "failed")
        self.store.submit(ops.finish_task(failed.job.id, failed.task, False, None, failed.error))
        self._check_finished(failed.job)

    def _check_finished(self, job: Job) -> None:
        if job.status == "running" and job.finished:
            job.status = "finished"
            self._open[job.owner] -= 1
            self.store.submit(ops.set_status(job.id, "finished", now_ms(self._clock)))

    def _waiting(self) -> dict[tuple[str, ...], float]:
        return {(): float(self.queue.waiting)}


def _raise(result: object) -> None:
    if isinstance(result, Exception):
        raise result
