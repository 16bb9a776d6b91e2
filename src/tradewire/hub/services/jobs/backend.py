"""Where shared computation's jobs live, behind one seam (docs/jobs.md).

:class:`~tradewire.hub.services.jobs.service.JobService` owns the frames: who may submit or
work, the rates, the ``max_jobs`` limit and the byte quota, the long-poll of ``task_lease``.
A :class:`JobBackend` owns the jobs, their tasks, leases, results and counts:

* :class:`~tradewire.hub.services.jobs.local.LocalJobs`: one hub's queue in memory, every
  change stored in its jobs.db before it is acknowledged;
* :class:`~tradewire.hub.services.jobs.shared.JetStreamJobs`: the queue in NATS JetStream, so
  that a job submitted through one hub is worked on by the workers of every hub (with ``[nats]``).

Both keep the same promises, which ``tests/integration/test_jobs.py`` runs against each: a
result is stored once, a lease that expires or whose worker leaves puts its task back, a task
fails after ``max_attempts``, and a job survives a restart of its hub.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from tradewire.hub.service import Session
from tradewire.protocol.messages import JobInfo, JobSubmit, LeasedTask, RequestId, TaskOutcome


class JobView(Protocol):
    """What the service reads of a job (a local ``Job`` or a shared ``JobRecord``)."""

    @property
    def id(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def fn(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def status(self) -> str: ...  # running, finished, cancelled


class JobBackend(Protocol):
    sweep_s: float  # how often :meth:`sweep` runs

    def job(self, job_id: str) -> JobView | None:
        """A job as this hub knows it now, or None."""
        ...

    def jobs(self) -> list[JobView]:
        """Every job known, oldest first."""
        ...

    def held_by(self, owner: str) -> tuple[int, int]:
        """``owner``'s stored open task bytes and unfinished jobs (the quotas)."""
        ...

    async def load(self) -> None:
        """At start: what an earlier run left (jobs.db), or the streams (JetStream)."""
        ...

    async def create(self, owner: str, frame: JobSubmit, size: int) -> JobView:
        """Store a new job and its tasks (``size`` payload bytes); raises if not stored."""
        ...

    async def add(self, job: JobView, tasks: list[msgspec.Raw], size: int) -> JobView:
        """Store more tasks of ``job``; returns the job grown. Raises if not stored."""
        ...

    async def cancel(self, job: JobView) -> None:
        """Cancel a running job: its open tasks go. Raises if not stored."""
        ...

    async def results(self, job: JobView, offset: int, limit: int) -> list[TaskOutcome]: ...

    async def leased(self, job: JobView) -> int:
        """How many of its tasks workers hold now."""
        ...

    async def take(self, worker: Session, most: int) -> list[LeasedTask]:
        """Up to ``most`` tasks now, one job after another (fair share); none is no wait."""
        ...

    async def wait(self, seconds: float) -> None:
        """Return when tasks may have come (or after ``seconds``): a long-poll's pause."""
        ...

    async def extend(self, worker: Session, job_id: str, task: int) -> bool:
        """Extend ``worker``'s lease of the task; False if it holds none (expired?)."""
        ...

    async def finish(
        self, worker: Session, job_id: str, task: int, ok: bool, value: bytes, error: str
    ) -> int:
        """A worker's outcome: stored once (1), or 0 (stored before, or a failed attempt
        with attempts left, whose task goes back to the queue)."""
        ...

    def release(self, worker: Session) -> None:
        """The worker left: its leased tasks go back to the queue."""
        ...

    def prune(self, finished_before_ms: int) -> None:
        """Delete the jobs finished before then."""
        ...

    async def sweep(self) -> None:
        """Upkeep, every ``sweep_s``: expired leases (this hub's queue), or counts a hub that
        died left behind (JetStream)."""
        ...


def job_summary(job: JobView) -> dict[str, Any]:
    """What the dashboard shows of a job."""
    return {
        "job": job.id,
        "owner": job.owner,
        "fn": job.fn,
        "n": job.n,
        "done": job.done,
        "failed": job.failed,
        "status": job.status,
    }


def job_info(job: JobView, leased: int, request_id: RequestId) -> JobInfo:
    return JobInfo(job.id, job.fn, job.n, job.done, job.failed, leased, job.status, request_id)
