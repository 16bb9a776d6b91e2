"""The job service's rules, driven frame by frame without a hub (fakes.py): the owner-or-admin
rule, max_jobs counted from the moment a submit is accepted, the per-user quota of open task
bytes, a result stored once, and a worker that leaves giving its lease back. The store is the
real jobs.db (in tmp_path); the clock is a ManualClock that the lease expiry follows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.services.fakes import AuditSink, FakeSession
from tradewire.clock import ManualClock
from tradewire.config import JobSettings
from tradewire.hub.audit import Auditor
from tradewire.hub.services.jobs.local import LocalJobs
from tradewire.hub.services.jobs.service import JobService
from tradewire.metrics import Metrics
from tradewire.protocol.messages import (
    JobCancel,
    JobResults,
    JobStatus,
    JobSubmit,
    TaskLease,
    TaskResult,
)
from tradewire.store.jobs import JobStore

FN = "tests.integration.jobfns:square"


class Jobs:
    def __init__(self, service: JobService, audit: AuditSink, clock: ManualClock) -> None:
        self.service, self.audit, self.clock = service, audit, clock

    async def ask(self, session: FakeSession, frame: Any) -> dict[str, Any]:
        """Send one frame; the reply (after the store committed, if it must)."""
        before = len(session.sent)
        self.service.handlers()[type(frame).__struct_config__.tag](session, frame)  # type: ignore[attr-defined]
        await until(lambda: len(session.sent) > before)
        return session.last()


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


@pytest.fixture
async def jobs(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Jobs]:
    settings = getattr(request, "param", JobSettings())
    store = JobStore(tmp_path, asyncio.get_running_loop())
    store.start()
    audit, clock = AuditSink(), ManualClock()
    spawn = asyncio.get_running_loop().create_task
    metrics = Metrics()
    backend = LocalJobs(store, clock, metrics)
    service = JobService(settings, backend, clock, Auditor(audit), metrics, spawn)  # type: ignore[arg-type]
    await service.load()
    yield Jobs(service, audit, clock)
    await asyncio.to_thread(store.stop)


def submit(n: int = 2, payload: bytes = b"3", **extra: Any) -> JobSubmit:
    return JobSubmit(FN, [msgspec.Raw(payload)] * n, **{"id": 1, **extra})


async def test_only_the_owner_or_an_admin_sees_or_cancels_a_job(jobs: Jobs) -> None:
    alice, bob, admin = FakeSession("alice"), FakeSession("bob"), FakeSession("root", "admin")
    job = (await jobs.ask(alice, submit()))["job"]
    assert (await jobs.ask(bob, JobStatus(job, id=2)))["code"] == "not_found"
    assert (await jobs.ask(bob, JobCancel(job, id=3)))["code"] == "not_found"
    assert (await jobs.ask(bob, JobResults(job, id=4)))["code"] == "not_found"
    assert (await jobs.ask(admin, JobStatus(job, id=5)))["status"] == "running"
    assert (await jobs.ask(admin, JobCancel(job, id=6)))["t"] == "ack"
    assert (await jobs.ask(alice, JobStatus(job, id=7)))["status"] == "cancelled"
    assert jobs.audit.events() == ["job_submit", "job_cancel"]


async def test_a_worker_role_may_not_submit_and_a_user_may_not_work(jobs: Jobs) -> None:
    worker, alice = FakeSession("w", "worker"), FakeSession("alice")
    assert (await jobs.ask(worker, submit()))["code"] == "forbidden"
    assert (await jobs.ask(alice, TaskLease(wait_ms=0, id=2)))["code"] == "forbidden"
    assert jobs.audit.events() == ["forbidden", "forbidden"]


@pytest.mark.parametrize("jobs", [JobSettings(max_jobs=2)], indirect=True)
async def test_max_jobs_holds_for_submits_at_once_and_frees_when_one_finishes(jobs: Jobs) -> None:
    alice, worker = FakeSession("alice"), FakeSession("w", "worker")
    for n in range(3):  # all three accepted before any is stored: the third is still refused
        jobs.service.submit(alice, JobSubmit(FN, [msgspec.Raw(b"1")], id=n))
    await until(lambda: len(alice.sent) == 3)
    assert sorted(f.get("code", f["t"]) for f in alice.sent) == ["job", "job", "rate_limited"]
    for _ in range(2):
        (task,) = (await jobs.ask(worker, TaskLease(wait_ms=0, id=9)))["tasks"]
        await jobs.ask(worker, TaskResult(task["job"], task["task"], True, msgspec.Raw(b"1")))
    assert (await jobs.ask(alice, submit(id=5)))["t"] == "job"


@pytest.mark.parametrize("jobs", [JobSettings(max_waiting_bytes_per_user=10)], indirect=True)
async def test_open_task_bytes_are_held_to_the_users_quota(jobs: Jobs) -> None:
    alice, bob = FakeSession("alice"), FakeSession("bob")
    assert (await jobs.ask(alice, submit(n=2, payload=b"1234")))["t"] == "job"  # 8 bytes
    refused = await jobs.ask(alice, submit(n=1, payload=b"1234"))
    assert refused["code"] == "quota_exceeded" and "max_waiting_bytes_per_user" in refused["msg"]
    assert (await jobs.ask(bob, submit(n=2, payload=b"1234")))["t"] == "job"  # bob's own
    assert jobs.audit.events() == ["job_submit", "refused", "job_submit"]
    assert jobs.service.held_by("alice") == (8, 1)


async def test_a_result_is_stored_once_and_read_back(jobs: Jobs) -> None:
    alice, worker = FakeSession("alice"), FakeSession("w", "worker")
    job = (await jobs.ask(alice, submit(n=1)))["job"]
    (task,) = (await jobs.ask(worker, TaskLease(wait_ms=0, id=2)))["tasks"]
    first = await jobs.ask(worker, TaskResult(job, task["task"], True, msgspec.Raw(b"9"), id=3))
    again = await jobs.ask(worker, TaskResult(job, task["task"], True, msgspec.Raw(b"7"), id=4))
    assert (first["n"], again["n"]) == (1, 0)
    (outcome,) = (await jobs.ask(alice, JobResults(job, id=5)))["results"]
    assert (outcome["ok"], outcome["value"]) == (True, 9)
    assert (await jobs.ask(alice, JobStatus(job, id=6)))["status"] == "finished"


async def test_a_worker_that_leaves_gives_its_lease_to_the_next(jobs: Jobs) -> None:
    alice, first, second = (
        FakeSession("alice"),
        FakeSession("w1", "worker"),
        FakeSession("w2", "worker"),
    )
    await jobs.ask(alice, submit(n=1))
    (task,) = (await jobs.ask(first, TaskLease(wait_ms=0, id=1)))["tasks"]
    assert (await jobs.ask(second, TaskLease(wait_ms=0, id=2)))["tasks"] == []
    jobs.service.session_ended(first)
    (again,) = (await jobs.ask(second, TaskLease(wait_ms=0, id=3)))["tasks"]
    assert (again["job"], again["task"]) == (task["job"], task["task"])
