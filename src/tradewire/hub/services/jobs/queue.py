"""The scheduler of shared computation, in memory (pure: the caller passes the time; the job
store keeps the durable copy). Jobs share workers fairly: each lease takes the next task of
the next job in turn. A lease that expires, or whose worker leaves, puts its task back; after
``max_attempts`` a task fails with its last error."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Job:
    id: str
    owner: str
    fn: str
    max_attempts: int
    lease_s: float
    n: int = 0
    done: int = 0
    failed: int = 0
    status: str = "running"  # running, finished, cancelled
    pending: deque[int] = field(default_factory=deque)
    payloads: dict[int, bytes] = field(default_factory=dict)  # open tasks only
    attempts: dict[int, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.n


@dataclass
class Lease:
    job: Job
    task: int
    worker: object
    deadline: float
    attempt: int


@dataclass(frozen=True)
class Failed:
    """A task that used up its attempts (to store as failed)."""

    job: Job
    task: int
    error: str


class JobQueue:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._turns: deque[Job] = deque()  # jobs with pending tasks, in turn
        self.leases: dict[tuple[str, int], Lease] = {}
        self._by_worker: dict[object, set[tuple[str, int]]] = {}
        # payload bytes of each owner's open tasks (waiting or leased): the jobs quota
        self.open_bytes: dict[str, int] = {}

    def add(
        self, job: Job, tasks: dict[int, bytes], attempts: dict[int, int] | None = None
    ) -> None:
        """Open tasks of ``job`` (a new job, more tasks, or a job reloaded at start)."""
        self.jobs[job.id] = job
        was_idle = not job.pending
        self.open_bytes[job.owner] = self.open_bytes.get(job.owner, 0) + sum(
            len(payload) for task, payload in tasks.items() if task not in job.payloads
        )
        for task in sorted(tasks):
            job.payloads[task] = tasks[task]
            job.attempts[task] = (attempts or {}).get(task, 0)
            job.pending.append(task)
        if was_idle and job.pending and job.status == "running":
            self._turns.append(job)

    @property
    def waiting(self) -> int:
        return sum(len(job.pending) for job in self._turns)

    def take(self, worker: object, now: float, most: int) -> list[Lease]:
        """Up to ``most`` tasks, one job after another (fair share)."""
        taken: list[Lease] = []
        while self._turns and len(taken) < most:
            job = self._turns.popleft()
            if job.status != "running" or not job.pending:
                continue
            task = job.pending.popleft()
            job.attempts[task] += 1
            lease = Lease(job, task, worker, now + job.lease_s, job.attempts[task])
            self.leases[(job.id, task)] = lease
            self._by_worker.setdefault(worker, set()).add((job.id, task))
            taken.append(lease)
            if job.pending:
                self._turns.append(job)
        return taken

    def extend(self, worker: object, job_id: str, task: int, now: float) -> bool:
        lease = self.leases.get((job_id, task))
        if lease is None or lease.worker is not worker:
            return False
        lease.deadline = now + lease.job.lease_s
        return True

    def is_open(self, job_id: str, task: int) -> bool:
        job = self.jobs.get(job_id)
        return job is not None and task in job.payloads

    def finish(self, job_id: str, task: int, ok: bool) -> bool:
        """Record an outcome; False when the task is not open (finished before, or unknown)."""
        job = self.jobs.get(job_id)
        if job is None or task not in job.payloads:
            return False
        self._unlease(job_id, task)
        self._release_bytes(job, len(job.payloads.pop(task)))
        if task in job.pending:
            job.pending.remove(task)
        if ok:
            job.done += 1
        else:
            job.failed += 1
        return True

    def retry_or_fail(self, job_id: str, task: int, error: str) -> Failed | None:
        """A failed attempt: back in the queue, or ``Failed`` once attempts are used up."""
        job = self.jobs[job_id]
        self._unlease(job_id, task)
        if job.attempts[task] >= job.max_attempts:
            return Failed(job, task, error)
        self._requeue(job, task)
        return None

    def release(self, worker: object) -> None:
        """A worker left: its tasks go back (their attempts stay counted)."""
        for job_id, task in sorted(self._by_worker.pop(worker, set())):
            lease = self.leases.pop((job_id, task), None)
            if lease is not None and task in lease.job.payloads:
                self._requeue(lease.job, task)

    def expired(self, now: float) -> list[Failed]:
        """Leases past their deadline go back; those out of attempts are returned."""
        failed = []
        for lease in [v for v in self.leases.values() if v.deadline <= now]:
            outcome = self.retry_or_fail(lease.job.id, lease.task, "lease expired")
            if outcome is not None:
                failed.append(outcome)
        return failed

    def cancel(self, job_id: str) -> None:
        job = self.jobs[job_id]
        job.status = "cancelled"
        for task in list(job.payloads):
            self._unlease(job_id, task)
        job.pending.clear()
        self._release_bytes(job, sum(len(p) for p in job.payloads.values()))
        job.payloads.clear()

    def _release_bytes(self, job: Job, size: int) -> None:
        left = self.open_bytes.get(job.owner, 0) - size
        if left > 0:
            self.open_bytes[job.owner] = left
        else:
            self.open_bytes.pop(job.owner, None)

    def _requeue(self, job: Job, task: int) -> None:
        if job.status != "running":
            return
        if not job.pending:
            self._turns.append(job)
        job.pending.appendleft(task)  # a redelivered task goes first

    def _unlease(self, job_id: str, task: int) -> None:
        lease = self.leases.pop((job_id, task), None)
        if lease is not None:
            held = self._by_worker.get(lease.worker)
            if held is not None:
                held.discard((job_id, task))
                if not held:
                    del self._by_worker[lease.worker]
