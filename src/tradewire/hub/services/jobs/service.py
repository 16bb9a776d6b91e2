"""Shared computation as a hub service (the article's "clients helping with heavy calculations";
docs/jobs.md). Users submit jobs (a function reference and task payloads); workers lease tasks,
extend their leases while working and return results.

This service owns the frames and their rules: who may submit or work (``acl``), the rate of job
frames, ``max_jobs`` counted from the moment a submit is accepted, the quota of open task bytes,
the owner-or-admin rule, and the long-poll of ``task_lease``. Where the jobs live is its
backend's business (hub/services/jobs/backend.py): this hub's jobs.db, or JetStream shared
by every hub.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import msgspec

from tradewire.clock import Clock, now_ms
from tradewire.config import JobSettings
from tradewire.hub.acl import may, owns
from tradewire.hub.audit import Auditor
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.jobs.backend import JobBackend, JobView, job_info, job_summary
from tradewire.hub.sharing.follow import release
from tradewire.metrics import Metrics
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import jobs as jobs_frames
from tradewire.protocol.messages import (
    Ack,
    JobAdd,
    JobCancel,
    JobResultList,
    JobResults,
    JobStatus,
    JobSubmit,
    LeasedTask,
    RequestId,
    TaskExtend,
    TaskLease,
    TaskResult,
    Tasks,
)

PRUNE_EVERY_S = 3600.0
MAX_PAUSE_S = 0.2  # a long-poll looks again at least this often (JetStream has no wake-up)


class JobService:
    frames = jobs_frames.FRAMES

    def __init__(
        self,
        settings: JobSettings,
        backend: JobBackend,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self.settings = settings
        self.backend = backend
        self._clock, self._auditor, self._spawn = clock, auditor, spawn
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        # Accepted but not stored yet, per owner: counted with the stored ones, so that many
        # submits at once cannot pass max_jobs (or the byte quota) together.
        self._submitting: collections.Counter[str] = collections.Counter()
        self._reserved: collections.Counter[str] = collections.Counter()  # bytes being stored
        self._polling: collections.Counter[Session] = collections.Counter()  # long-polls
        metrics.gauge("tradewire_jobs", "jobs by status", self._by_status, ("status",))

    async def load(self) -> None:
        await self.backend.load()

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
        self._polling.pop(session, None)
        self.backend.release(session)

    def held_by(self, owner: str) -> tuple[int, int]:
        """``owner``'s open task bytes and unfinished jobs, with what is being stored."""
        held, jobs = self.backend.held_by(owner)
        return held + self._reserved[owner], jobs + self._submitting[owner]

    def summaries(self, most: int = 20) -> list[dict[str, Any]]:
        """The newest ``most`` jobs, JSON-ready (the dashboard; with NATS every hub's)."""
        return [job_summary(job) for job in self.backend.jobs()[-most:]]

    # ---- submitters ----------------------------------------------------------------------------

    def submit(self, session: Session, frame: JobSubmit) -> None:
        assert session.user is not None
        if not self._allowed(session, "submit_job", frame.id):
            return
        owner = session.user.name
        problem = tasks_problem(self.settings, frame.tasks, 0)
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return
        held, jobs = self.held_by(owner)
        if jobs >= self.settings.max_jobs:
            msg = f"{jobs} unfinished jobs already (jobs.max_jobs)"
            session.send(error_line("rate_limited", msg, frame.id))
            return
        size = sum(len(t) for t in frame.tasks)
        if over_quota(self.settings, self._auditor, session, held, size, frame.id):
            return
        self._submitting[owner] += 1
        self._reserved[owner] += size
        self._spawn(self._submit(session, frame, owner, size))

    async def _submit(self, session: Session, frame: JobSubmit, owner: str, size: int) -> None:
        try:
            job = await self.backend.create(owner, frame, size)
        except Exception as exc:  # the store or NATS failed: reported, nothing acknowledged
            session.send(error_line("internal", f"job not stored: {exc}", frame.id))
            return
        finally:
            release(self._submitting, owner, 1)
            release(self._reserved, owner, size)
        self._auditor.audit("job_submit", owner, session.address, f"job={job.id} n={job.n}")
        session.send(encode(job_info(job, 0, frame.id)))

    def add(self, session: Session, frame: JobAdd) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is None:
            return
        problem = tasks_problem(self.settings, frame.tasks, job.n)
        if problem is None and job.status != "running":
            problem = f"job {job.id} is {job.status}"
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return
        size = sum(len(t) for t in frame.tasks)
        held, _ = self.held_by(job.owner)
        if over_quota(self.settings, self._auditor, session, held, size, frame.id):
            return
        self._reserved[job.owner] += size

        async def added() -> None:
            try:
                grown = await self.backend.add(job, frame.tasks, size)
                leased = await self.backend.leased(grown)
            except Exception as exc:  # the store or NATS failed: reported
                session.send(error_line("internal", f"tasks not stored: {exc}", frame.id))
                return
            finally:
                release(self._reserved, job.owner, size)
            session.send(encode(job_info(grown, leased, frame.id)))

        self._spawn(added())

    def status(self, session: Session, frame: JobStatus) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is not None:

            async def answer() -> None:
                session.send(encode(job_info(job, await self.backend.leased(job), frame.id)))

            session.replying(self._spawn(answer()))

    def results(self, session: Session, frame: JobResults) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is None:
            return

        async def read() -> None:
            outcomes = await self.backend.results(job, frame.offset, frame.limit)
            session.send(encode(JobResultList(job=job.id, results=outcomes, re=frame.id)))

        session.replying(self._spawn(read()))

    def cancel(self, session: Session, frame: JobCancel) -> None:
        job = self._owned(session, frame.job, frame.id)
        if job is None:
            return
        if job.status != "running":
            session.send(encode(Ack(re=frame.id)))
            return
        assert session.user is not None
        self._auditor.audit("job_cancel", session.user.name, session.address, f"job={job.id}")

        async def cancelled() -> None:
            try:
                await self.backend.cancel(job)
            except Exception as exc:  # the store or NATS failed: reported
                session.send(error_line("internal", f"not cancelled: {exc}", frame.id))
                return
            session.send(encode(Ack(re=frame.id)))  # once it is stored (every hub sees it)

        self._spawn(cancelled())

    # ---- workers -------------------------------------------------------------------------------

    def lease(self, session: Session, frame: TaskLease) -> None:
        if self._allowed(session, "work", frame.id):
            self._polling[session] += 1
            self._spawn(self._lease(session, frame))

    async def _lease(self, session: Session, frame: TaskLease) -> None:
        """Tasks now, or as soon as some come within ``wait_ms`` (then none)."""
        until = self._clock.monotonic() + frame.wait_ms / 1000
        taken: list[LeasedTask] = []
        try:
            while True:
                taken = await self.backend.take(session, frame.max)
                left = until - self._clock.monotonic()
                if taken or left <= 0 or session not in self._polling:
                    break
                await self.backend.wait(min(left, MAX_PAUSE_S))
        except Exception as exc:  # NATS away: the worker asks again
            session.send(error_line("internal", f"no tasks: {exc}", frame.id))
            return
        finally:
            if session in self._polling:
                release(self._polling, session, 1)
        session.send(encode(Tasks(tasks=taken, re=frame.id)))

    def extend(self, session: Session, frame: TaskExtend) -> None:
        async def extended() -> None:
            if await self.backend.extend(session, frame.job, frame.task):
                session.send(encode(Ack(re=frame.id)))
            else:
                msg = "no such lease of yours (expired?)"
                session.send(error_line("not_found", msg, frame.id))

        self._spawn(extended())

    def result(self, session: Session, frame: TaskResult) -> None:
        if not self._allowed(session, "work", frame.id):
            return
        value, ok, error = bytes(frame.value), frame.ok, frame.error
        if ok and len(value) > self.settings.max_result_bytes:
            limit = self.settings.max_result_bytes
            ok, error = False, f"result of {len(value)} bytes; at most {limit}"

        async def finished() -> None:
            try:
                stored = await self.backend.finish(session, frame.job, frame.task, ok, value, error)
            except Exception as exc:  # the store or NATS failed: the worker sends it again
                session.send(error_line("internal", f"result not stored: {exc}", frame.id))
                return
            session.send(encode(Ack(re=frame.id, n=stored)))

        self._spawn(finished())

    # ---- upkeep --------------------------------------------------------------------------------

    def prune(self) -> None:
        """Delete jobs finished more than ``keep_days`` ago (hourly, and at start)."""
        self.backend.prune(now_ms(self._clock) - int(self.settings.keep_days * 86_400_000))

    async def run(self) -> None:
        """The long-lived upkeep: pruning, and the backend's sweep (expired leases, lost
        counts); the hub supervises it after ``load``."""
        pruned_at = -PRUNE_EVERY_S
        while True:
            now = self._clock.monotonic()
            if now - pruned_at >= PRUNE_EVERY_S:
                pruned_at = now
                self.prune()
            await self.backend.sweep()
            await asyncio.sleep(self.backend.sweep_s)

    # ---- helpers -------------------------------------------------------------------------------

    def _allowed(self, session: Session, action: Any, request_id: RequestId) -> bool:
        return allowed(self._buckets, self._auditor, self._clock, session, action, request_id)

    def _owned(self, session: Session, job_id: str, request_id: RequestId) -> JobView | None:
        assert session.user is not None
        job = self.backend.job(job_id)
        if job is None or not owns(session.user, job.owner):
            session.send(error_line("not_found", f"no job {job_id} of yours", request_id))
            return None
        return job

    def _by_status(self) -> dict[tuple[str, ...], float]:
        return dict(collections.Counter((job.status,) for job in self.backend.jobs()))


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
