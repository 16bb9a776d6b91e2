"""Shared computation: jobs, their tasks, workers' leases and results."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId

JobId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{16}$")]


TaskIndex = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


FunctionRef = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][\w.]{0,199}:[A-Za-z_]\w{0,99}$")]


class JobSubmit(Frame, frozen=True, tag="job_submit"):
    """A job: the function ``module:name`` a worker runs once per task payload. Answered with
    ``job``. More tasks can follow in ``job_add`` frames (a frame has a size limit)."""

    fn: FunctionRef
    tasks: list[msgspec.Raw]
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    lease_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 30.0
    id: RequestId = None


class JobAdd(Frame, frozen=True, tag="job_add"):
    job: JobId
    tasks: list[msgspec.Raw]
    id: RequestId = None


class JobStatus(Frame, frozen=True, tag="job_status"):
    job: JobId
    id: RequestId = None


class JobResults(Frame, frozen=True, tag="job_results"):
    job: JobId
    offset: TaskIndex = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000
    id: RequestId = None


class JobCancel(Frame, frozen=True, tag="job_cancel"):
    job: JobId
    id: RequestId = None


class TaskLease(Frame, frozen=True, tag="task_lease"):
    """Workers: up to ``max`` tasks, waiting up to ``wait_ms`` for one (answered ``tasks``)."""

    max: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    wait_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 20_000
    id: RequestId = None


class TaskExtend(Frame, frozen=True, tag="task_extend"):
    job: JobId
    task: TaskIndex
    id: RequestId = None


class TaskResult(Frame, frozen=True, tag="task_result"):
    """A task's outcome: ``ok`` with its ``value``, or not with its ``error``."""

    job: JobId
    task: TaskIndex
    ok: bool
    value: msgspec.Raw = msgspec.Raw(b"null")
    error: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    id: RequestId = None


class JobInfo(Frame, frozen=True, tag="job"):
    """A job's progress: ``done`` + ``failed`` of ``n`` tasks are finished."""

    job: str
    fn: str
    n: int
    done: int
    failed: int
    leased: int
    status: str  # running, finished, cancelled
    re: RequestId = None


class TaskOutcome(msgspec.Struct, frozen=True):
    task: int
    ok: bool
    value: msgspec.Raw  # null when the task failed
    error: str
    attempts: int


class JobResultList(Frame, frozen=True, tag="results"):
    job: str
    results: list[TaskOutcome]
    re: RequestId = None


class LeasedTask(msgspec.Struct, frozen=True):
    job: str
    task: int
    fn: str
    payload: msgspec.Raw
    attempt: int
    lease_s: float


class Tasks(Frame, frozen=True, tag="tasks"):
    tasks: list[LeasedTask]
    re: RequestId = None


FRAMES = FrameSet(
    "jobs",
    client=(JobSubmit, JobAdd, JobStatus, JobResults, JobCancel, TaskLease, TaskExtend, TaskResult),
    server=(JobInfo, JobResultList, Tasks),
)
