"""Shared computation as a hub service (the article's "clients helping with heavy calculations";
docs/jobs.md). Users submit jobs (a function reference and task payloads); workers lease tasks,
extend their leases while working and return results. Every change is stored in jobs.db before
it is acknowledged, so a job survives a hub restart and each task's result is stored once."""

from __future__ import annotations

import asyncio
import collections
import math
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from tradewire.clock import Clock, now_ms
from tradewire.config import JobSettings
from tradewire.hub.acl import may, owns
from tradewire.hub.audit import Auditor
from tradewire.hub.job_queue import Failed, Job, JobQueue, Lease
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.metrics import Metrics
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.messages import (
    Ack,
    JobAdd,
    JobCancel,
    JobInfo,
    JobResultList,
    JobResults,
    JobStatus,
    JobSubmit,
    LeasedTask,
    RequestId,
    TaskExtend,
    TaskLease,
    TaskOutcome,
    TaskResult,
    Tasks,
)
from tradewire.store import jobs as ops
from tradewire.store.jobs import JobStore

SWEEP_S = 0.2
PRUNE_EVERY_S = 3600.0


@dataclass
class _Waiter:
    session: Session
    request_id: RequestId
    most: int
    until: float


class JobService:
    def __init__(
        self,
        settings: JobSettings,
        store: JobStore,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = JobQueue()
        self._clock = clock
        self._auditor = auditor
        self._waiters: list[_Waiter] = []
        # Unfinished jobs per owner, counted from the moment a submit is accepted (before it
        # is stored), so that many submits at once cannot pass the max_jobs limit together.
        self._open: collections.Counter[str] = collections.Counter()
        self._reserved: collections.Counter[str] = collections.Counter()  # bytes being stored
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._finished = metrics.counter(
            "tradewire_job_tasks_total", "tasks finished, by outcome", ("outcome",)
        )
        metrics.gauge("tradewire_job_tasks_waiting", "tasks waiting for a worker", self._waiting)
        metrics.gauge("tradewire_jobs", "jobs by status", self._by_status, ("status",))
        self._spawn = spawn

    async def load(self) -> None:
        """At start: unfinished work from jobs.db (leases are gone: their tasks wait again)."""
        for stored in await self.store.call(ops.load_jobs):
            job = Job(stored.id, stored.owner, stored.fn, stored.max_attempts, stored.lease_s)
            job.n, job.done, job.failed, job.status = (
                stored.n,
                stored.done,
                stored.failed,
                stored.status,
            )
            tasks = {index: payload for index, _, payload in stored.open_tasks}
            if job.status == "running":
                self._open[job.owner] += 1
            self.queue.add(job, tasks, {index: tries for index, tries, _ in stored.open_tasks})

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "job_submit": self.submit,
            "job_add": self.add,
            "job_status": self.status,
            "job_results": self.results,
            "job_cancel": self.cancel,
            "task_lease": self.lease,
            "task_extend": self.extend,
            "task_result": self.result,
        }

    def session_ended(self, session: Session) -> None:
        self._waiters = [w for w in self._waiters if w.session is not session]
        self.queue.release(session)
        self._serve_waiters()

    # ---- submitters ----------------------------------------------------------------------------

    def submit(self, session: Session, frame: JobSubmit) -> None:
        assert session.user is not None
        if not self._allowed(session, "submit_job", frame.id):
            return
        owner = session.user.name
        problem = self._tasks_problem(frame.tasks, 0)
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return
        if self._open[owner] >= self.settings.max_jobs:
            msg = f"{self._open[owner]} unfinished jobs already (jobs.max_jobs)"
            session.send(error_line("rate_limited", msg, frame.id))
            return
        size = sum(len(t) for t in frame.tasks)
        if self._over_quota(session, owner, size, frame.id):
            return
        self._open[owner] += 1
        self._reserved[owner] += size
        job = Job(secrets.token_hex(8), owner, frame.fn, frame.max_attempts, frame.lease_s)
        job.n = len(frame.tasks)
        stored = ops.StoredJob(
            job.id, owner, job.fn, job.n, job.max_attempts, job.lease_s, "running", 0, 0, []
        )
        payloads = [bytes(t) for t in frame.tasks]

        def saved(result: object) -> None:
            self._reserved[owner] -= size
            if isinstance(result, Exception):
                self._open[owner] -= 1
                session.send(error_line("internal", "job not stored", frame.id))
                return
            self.queue.add(job, dict(enumerate(payloads)))
            self._auditor.audit("job_submit", owner, session.address, f"job={job.id} n={job.n}")
            session.send(encode(self._info(job, frame.id)))
            self._check_finished(job)
            self._serve_waiters()

        self.store.submit(ops.add_job(stored, payloads, now_ms(self._clock)), saved)

    def add(self, session: Session, frame: JobAdd) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is None:
            return
        problem = self._tasks_problem(frame.tasks, job.n)
        if problem is None and job.status != "running":
            problem = f"job {job.id} is {job.status}"
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return
        size = sum(len(t) for t in frame.tasks)
        if self._over_quota(session, job.owner, size, frame.id):
            return
        self._reserved[job.owner] += size
        first, payloads = job.n, [bytes(t) for t in frame.tasks]
        job.n += len(payloads)

        def saved(result: object) -> None:
            self._reserved[job.owner] -= size
            if isinstance(result, Exception):
                session.send(error_line("internal", "tasks not stored", frame.id))
                return
            self.queue.add(job, {first + i: p for i, p in enumerate(payloads)})
            session.send(encode(self._info(job, frame.id)))
            self._serve_waiters()

        self.store.submit(ops.add_tasks(job.id, first, payloads), saved)

    def summaries(self, most: int = 20) -> list[dict[str, Any]]:
        """The newest ``most`` jobs, JSON-ready (the dashboard)."""
        return [job_summary(job) for job in list(self.queue.jobs.values())[-most:]]

    def held_by(self, owner: str) -> tuple[int, int]:
        """``owner``'s open task bytes and unfinished jobs (what the quotas count)."""
        return self.queue.open_bytes.get(owner, 0) + self._reserved[owner], self._open[owner]

    def _over_quota(self, session: Session, owner: str, size: int, re: RequestId) -> bool:
        """Refuse (``quota_exceeded``) tasks that would take ``owner``'s open tasks past
        jobs.max_waiting_bytes_per_user; counts what is being stored meanwhile too."""
        held = self.queue.open_bytes.get(owner, 0) + self._reserved[owner]
        return over_quota(self.settings, self._auditor, session, held, size, re)

    def status(self, session: Session, frame: JobStatus) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is not None:
            session.send(encode(self._info(job, frame.id)))

    def results(self, session: Session, frame: JobResults) -> None:
        if self._owned(session, frame.job, frame.id) is None:
            return

        async def read() -> None:
            rows = await self.store.call(
                lambda db: ops.results(db, frame.job, frame.offset, frame.limit)
            )
            outcomes = [
                TaskOutcome(i, state == "done", msgspec.Raw(value or b"null"), error, tries)
                for i, state, value, error, tries in rows
            ]
            session.send(encode(JobResultList(job=frame.job, results=outcomes, re=frame.id)))

        session.replying(self._spawn(read()))

    def cancel(self, session: Session, frame: JobCancel) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is None:
            return
        if job.status == "running":
            self._open[job.owner] -= 1
            self.queue.cancel(job.id)
            self.store.submit(ops.set_status(job.id, "cancelled", now_ms(self._clock)))
            assert session.user is not None
            self._auditor.audit("job_cancel", session.user.name, session.address, f"job={job.id}")
        session.send(encode(Ack(re=frame.id)))

    # ---- workers -------------------------------------------------------------------------------

    def lease(self, session: Session, frame: TaskLease) -> None:
        if not self._allowed(session, "work", frame.id):
            return
        taken = self.queue.take(session, self._clock.monotonic(), frame.max)
        if taken or frame.wait_ms == 0:
            self._hand_out(session, frame.id, taken)
            return
        until = self._clock.monotonic() + frame.wait_ms / 1000
        self._waiters.append(_Waiter(session, frame.id, frame.max, until))

    def extend(self, session: Session, frame: TaskExtend) -> None:
        if self.queue.extend(session, frame.job, frame.task, self._clock.monotonic()):
            session.send(encode(Ack(re=frame.id)))
        else:
            session.send(error_line("not_found", "no such lease of yours (expired?)", frame.id))

    def result(self, session: Session, frame: TaskResult) -> None:
        if not self._allowed(session, "work", frame.id):
            return
        if not self.queue.is_open(frame.job, frame.task):
            session.send(encode(Ack(re=frame.id, n=0)))  # finished already: stored once
            return
        value = bytes(frame.value)
        ok, error = frame.ok, frame.error
        if ok and len(value) > self.settings.max_result_bytes:
            ok, error = (
                False,
                f"result of {len(value)} bytes; at most {self.settings.max_result_bytes}",
            )
        if not ok:
            failed = self.queue.retry_or_fail(frame.job, frame.task, error or "failed")
            session.send(encode(Ack(re=frame.id, n=0)))
            if failed is not None:
                self._store_failure(failed)
            self._serve_waiters()
            return
        job = self.queue.jobs[frame.job]
        self.queue.finish(frame.job, frame.task, True)

        def saved(result: object) -> None:
            session.send(encode(Ack(re=frame.id, n=int(result) if isinstance(result, int) else 0)))
            self._finished.inc(1, "done")
            self._check_finished(job)

        self.store.submit(ops.finish_task(job.id, frame.task, True, value, ""), saved)

    # ---- helpers -------------------------------------------------------------------------------

    def _hand_out(self, session: Session, request_id: RequestId, taken: list[Lease]) -> None:
        tasks = []
        for lease in taken:
            job = lease.job
            self.store.submit(ops.count_attempt(job.id, lease.task))
            payload = msgspec.Raw(job.payloads[lease.task])
            tasks.append(
                LeasedTask(job.id, lease.task, job.fn, payload, lease.attempt, job.lease_s)
            )
        session.send(encode(Tasks(tasks=tasks, re=request_id)))

    def _serve_waiters(self) -> None:
        while self._waiters and self.queue.waiting:
            waiter = self._waiters.pop(0)
            taken = self.queue.take(waiter.session, self._clock.monotonic(), waiter.most)
            self._hand_out(waiter.session, waiter.request_id, taken)

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

    def prune(self) -> None:
        """Delete jobs finished more than ``keep_days`` ago (hourly, and at start)."""
        cutoff = now_ms(self._clock) - int(self.settings.keep_days * 86_400_000)

        def pruned(gone: object) -> None:
            for job_id in gone if isinstance(gone, list) else ():
                self.queue.jobs.pop(job_id, None)

        self.store.submit(ops.prune(cutoff), pruned)

    async def run(self) -> None:
        """The long-lived sweep (lease expiry, waiting workers, pruning); the hub supervises
        it after ``load``."""
        pruned_at = -PRUNE_EVERY_S
        while True:
            await asyncio.sleep(SWEEP_S)
            now = self._clock.monotonic()
            if now - pruned_at >= PRUNE_EVERY_S:
                pruned_at = now
                self.prune()
            for failed in self.queue.expired(now):
                self._store_failure(failed)
            self._serve_waiters()
            for waiter in [w for w in self._waiters if w.until <= now]:
                self._waiters.remove(waiter)
                self._hand_out(waiter.session, waiter.request_id, [])

    def _allowed(self, session: Session, action: Any, request_id: RequestId) -> bool:
        return allowed(self._buckets, self._auditor, self._clock, session, action, request_id)

    def _owned(self, session: Session, job_id: str, request_id: RequestId) -> Job | None:
        assert session.user is not None
        job = self.queue.jobs.get(job_id)
        if job is None or not owns(session.user, job.owner):
            session.send(error_line("not_found", f"no job {job_id} of yours", request_id))
            return None
        return job

    def _tasks_problem(self, tasks: list[msgspec.Raw], already: int) -> str | None:
        return tasks_problem(self.settings, tasks, already)

    def _info(self, job: Job, request_id: RequestId) -> JobInfo:
        leased = sum(1 for lease in self.queue.leases.values() if lease.job is job)
        return JobInfo(job.id, job.fn, job.n, job.done, job.failed, leased, job.status, request_id)

    def _by_status(self) -> dict[tuple[str, ...], float]:
        counts: dict[tuple[str, ...], float] = {}
        for job in self.queue.jobs.values():
            counts[(job.status,)] = counts.get((job.status,), 0.0) + 1
        return counts

    def _waiting(self) -> dict[tuple[str, ...], float]:
        return {(): float(self.queue.waiting)}


def allowed(
    buckets: SessionBuckets,
    auditor: Auditor,
    clock: Clock,
    session: Session,
    action: Any,
    request_id: RequestId,
) -> bool:
    """A job frame within the session's rate and the user's role (else refused, audited)."""
    assert session.user is not None
    wait = buckets.take(session, clock.monotonic())
    if wait > 0:
        retry = math.ceil(wait * 1000) / 1000
        session.send(
            error_line("rate_limited", "too many job frames", request_id, retry_after_s=retry)
        )
        return False
    if not may(session.user, action):
        auditor.forbidden(session, f"role {session.user.role} may not {action}", request_id)
        return False
    return True


def tasks_problem(settings: JobSettings, tasks: list[msgspec.Raw], already: int) -> str | None:
    if already + len(tasks) > settings.max_tasks:
        return f"at most {settings.max_tasks} tasks per job"
    if any(len(t) > settings.max_payload_bytes for t in tasks):
        return f"a task payload is larger than {settings.max_payload_bytes} bytes"
    return None


def over_quota(
    settings: JobSettings,
    auditor: Auditor,
    session: Session,
    held: int,
    size: int,
    re: RequestId,
) -> bool:
    """Refuse (``quota_exceeded``, audited) ``size`` more bytes of tasks when the submitter's
    open tasks already take ``held`` (both job queues)."""
    limit = settings.max_waiting_bytes_per_user
    if held + size <= limit:
        return False
    assert session.user is not None
    owner = session.user.name
    msg = (
        f"{owner}'s open tasks take {held} bytes; these would make {held + size}, over "
        f"{limit} (jobs.max_waiting_bytes_per_user): wait for tasks to finish"
    )
    auditor.audit("refused", owner, session.address, f"jobs quota: {held + size}")
    session.send(error_line("quota_exceeded", msg, re))
    return True


def job_summary(job: Job | Any) -> dict[str, Any]:
    """What the dashboard shows of a job (a local ``Job`` or a shared ``JobRecord``)."""
    return {
        "job": job.id,
        "owner": job.owner,
        "fn": job.fn,
        "n": job.n,
        "done": job.done,
        "failed": job.failed,
        "status": job.status,
    }
