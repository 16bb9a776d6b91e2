"""Shared computation across hubs on NATS JetStream (docs/jobs.md, docs/scaling.md): the same
frames and guarantees as :class:`~tradewire.hub.jobs.JobService`, with the queue in JetStream
so that a job submitted through one hub is worked on by workers of every hub.

* **Tasks** go to the work-queue stream ``TW_TASKS`` (subject ``tw.task.JOB``, one message per
  task, ``Nats-Msg-Id`` JOB.N). Each job has a durable pull consumer: its ``ack_wait`` is the
  lease (``task_extend`` is ``in_progress``), a worker that leaves gives its tasks back
  (``nak``), and JetStream redelivers an expired lease. A delivery past ``max_attempts`` is
  recorded as failed ("lease expired"). Leases take one task of each job in turn (fair share).
* **Results** go to ``TW_RESULTS`` (``tw.result.JOB.N``) with an expected last sequence of 0:
  the first result of a task is stored, any later one is refused, so a result is stored once
  whichever hubs the workers use.
* **Jobs** are bus subjects ``job:ID`` (owner, function, counts, status): every hub mirrors
  them; counts change by read-modify-write through the bus, which re-reads and re-stamps when
  another hub changed the job first.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
from nats.js import api
from nats.js.errors import APIError, NotFoundError

from tradewire.bus.base import Message
from tradewire.bus.nats import WRONG_LAST_SEQUENCE, NatsBus
from tradewire.clock import Clock, now_ms
from tradewire.config import JobSettings
from tradewire.hub.acl import owns
from tradewire.hub.audit import Auditor
from tradewire.hub.jobs import allowed, job_summary, over_quota, tasks_problem
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.hub.shared import follow_subjects, release
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

PREFIX = "job:"
TASKS, RESULTS = "TW_TASKS", "TW_RESULTS"
FETCH_S = 0.05  # how long one look at a job's queue waits for a task
POLL_S = 0.1  # between looks while a long-poll waits
PRUNE_EVERY_S = 3600.0
RECOUNT_S = 10.0  # how often stalled counts are checked against the stored results


class JobRecord(msgspec.Struct, frozen=True):
    id: str
    owner: str
    fn: str
    n: int
    max_attempts: int
    lease_s: float
    status: str = "running"  # running, finished, cancelled
    done: int = 0
    failed: int = 0
    finished_ms: int = 0
    created_ms: int = 0  # jobs take turns in this order
    # payload bytes of its tasks, counted whole against jobs.max_waiting_bytes_per_user while open
    bytes: int = 0


class _Outcome(msgspec.Struct, frozen=True):
    ok: bool
    value: msgspec.Raw
    error: str
    attempts: int


def encode_record(record: JobRecord | None) -> bytes:
    return msgspec.json.encode(record) + b"\n"


def decode_record(line: bytes) -> JobRecord | None:
    return msgspec.json.decode(line, type=JobRecord | None)


@dataclass(slots=True)
class _Lease:
    session: Session
    msg: Any  # the JetStream message, acked, nak'ed or extended for this lease
    attempt: int


class _Mirror:
    """Every hub's view of the jobs (``hub.jobs.queue.jobs``, as the dashboard reads it)."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}


class SharedJobService:
    def __init__(
        self,
        bus: NatsBus,
        settings: JobSettings,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        replicas: int = 1,
    ) -> None:
        self.settings = settings
        self.queue = _Mirror()
        self._bus, self._clock, self._auditor, self._spawn = bus, clock, auditor, spawn
        self._replicas = replicas
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._leases: dict[tuple[str, int], _Lease] = {}
        self._pulls: dict[str, Any] = {}  # job -> its pull subscription on this hub
        self._waiting: set[Session] = set()  # sessions in a long-poll
        self._submitting: Counter[str] = Counter()  # owners' submits not stored yet
        self._reserved: Counter[str] = Counter()  # ... and their bytes, and those of adds
        self._deltas: dict[str, tuple[int, int]] = {}  # results stored, not yet counted
        self._counting: set[str] = set()  # jobs whose counts are being changed
        self._turn = 0
        self._finished = metrics.counter(
            "tradewire_job_tasks_total", "tasks finished, by outcome", ("outcome",)
        )
        metrics.gauge("tradewire_jobs", "jobs by status", self._by_status, ("status",))
        follow_subjects(bus, PREFIX, self)

    @property
    def _js(self) -> Any:
        return self._bus.jetstream

    async def load(self) -> None:
        """At start: the streams (made by the first hub); the jobs come with the bus."""
        for config in (
            api.StreamConfig(
                name=TASKS,
                subjects=["tw.task.>"],
                retention=api.RetentionPolicy.WORK_QUEUE,
                storage=api.StorageType.FILE,
                num_replicas=self._replicas,
            ),
            api.StreamConfig(
                name=RESULTS,
                subjects=["tw.result.>"],
                max_msgs_per_subject=1,
                storage=api.StorageType.FILE,
                num_replicas=self._replicas,
            ),
        ):
            await self._js.add_stream(config)

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
        self._waiting.discard(session)
        for key in [k for k, lease in self._leases.items() if lease.session is session]:
            lease = self._leases.pop(key)
            self._spawn(_quietly(lease.msg.nak()))  # the task waits for another worker

    def deliver(self, message: Message) -> None:
        """A job as the bus has it now (another hub's change, or ours come back)."""
        record: JobRecord | None = message.value
        job_id = message.subject[len(PREFIX) :]
        if record is None:
            self.queue.jobs.pop(job_id, None)
        else:
            self.queue.jobs[job_id] = record

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
        running = sum(1 for r in self.queue.jobs.values() if r.owner == owner and _open(r))
        if running + self._submitting[owner] >= self.settings.max_jobs:
            msg = f"{running + self._submitting[owner]} unfinished jobs already (jobs.max_jobs)"
            session.send(error_line("rate_limited", msg, frame.id))
            return
        size = sum(len(t) for t in frame.tasks)
        if self._over_quota(session, owner, size, frame.id):
            return
        self._submitting[owner] += 1
        self._reserved[owner] += size
        self._spawn(self._submit(session, frame, owner, size))

    def summaries(self, most: int = 20) -> list[dict[str, Any]]:
        """The newest ``most`` jobs of every hub, JSON-ready (the dashboard)."""
        return [job_summary(record) for record in list(self.queue.jobs.values())[-most:]]

    def held_by(self, owner: str) -> tuple[int, int]:
        """``owner``'s open task bytes (a running job's tasks count whole until it ends:
        JetStream does not say which are done) and unfinished jobs, with what this hub is
        storing meanwhile."""
        mine = [r for r in self.queue.jobs.values() if r.owner == owner and _open(r)]
        held = sum(r.bytes for r in mine) + self._reserved[owner]
        return held, len(mine) + self._submitting[owner]

    def _over_quota(self, session: Session, owner: str, size: int, re: RequestId) -> bool:
        held, _ = self.held_by(owner)
        return over_quota(self.settings, self._auditor, session, held, size, re)

    async def _submit(self, session: Session, frame: JobSubmit, owner: str, size: int) -> None:
        job_id = secrets.token_hex(8)
        try:
            await self._js.add_consumer(
                TASKS,
                api.ConsumerConfig(
                    durable_name=_consumer(job_id),
                    filter_subject=f"tw.task.{job_id}",
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=frame.lease_s,
                    max_deliver=frame.max_attempts + 1,  # the last one records the failure
                    deliver_policy=api.DeliverPolicy.ALL,
                ),
            )
            await self._put_tasks(job_id, 0, frame.tasks)
            n = len(frame.tasks)
            record = JobRecord(
                job_id,
                owner,
                frame.fn,
                n,
                frame.max_attempts,
                frame.lease_s,
                status="running" if n else "finished",
                created_ms=now_ms(self._clock),
                bytes=size,
            )
            stored = await self._change(job_id, lambda _current: record)
        except Exception as exc:  # every NATS failure, reported; nothing is acked
            session.send(error_line("internal", f"job not stored: {exc}", frame.id))
            return
        finally:
            release(self._submitting, owner)
            release(self._reserved, owner, size)
        self._auditor.audit("job_submit", owner, session.address, f"job={job_id} n={n}")
        session.send(encode(_info(stored or record, 0, frame.id)))

    async def _put_tasks(self, job_id: str, first: int, tasks: list[msgspec.Raw]) -> None:
        """Every task stored before the submitter hears of the job (a resend stores once)."""
        for start in range(0, len(tasks), 256):
            await asyncio.gather(
                *(
                    self._js.publish(
                        f"tw.task.{job_id}",
                        bytes(payload),
                        headers={"Nats-Msg-Id": f"{job_id}.{first + i}", "Tw-Task": str(first + i)},
                    )
                    for i, payload in enumerate(tasks[start : start + 256], start)
                )
            )

    def add(self, session: Session, frame: JobAdd) -> None:
        record = self._owned(session, frame.job, frame.id)
        if record is None:
            return
        problem = tasks_problem(self.settings, frame.tasks, record.n)
        if problem is None and record.status != "running":
            problem = f"job {record.id} is {record.status}"
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return

        size = sum(len(t) for t in frame.tasks)
        if self._over_quota(session, record.owner, size, frame.id):
            return
        self._reserved[record.owner] += size

        async def added() -> None:
            k = len(frame.tasks)
            try:  # the indexes first (another hub may add at the same time), then the tasks
                grown = await self._change(
                    record.id,
                    lambda r: r and msgspec.structs.replace(r, n=r.n + k, bytes=r.bytes + size),
                )
                assert grown is not None
                await self._put_tasks(record.id, grown.n - k, frame.tasks)
            except Exception as exc:  # every NATS failure, reported
                session.send(error_line("internal", f"tasks not stored: {exc}", frame.id))
                return
            finally:
                release(self._reserved, record.owner, size)
            session.send(encode(_info(grown, await self._leased(record.id), frame.id)))

        self._spawn(added())

    def status(self, session: Session, frame: JobStatus) -> None:
        record = self._owned(session, frame.job, frame.id)
        if record is not None:

            async def answer() -> None:
                session.send(encode(_info(record, await self._leased(record.id), frame.id)))

            self._spawn(answer())

    def results(self, session: Session, frame: JobResults) -> None:
        record = self._owned(session, frame.job, frame.id)
        if record is None:
            return

        async def read() -> None:
            outcomes: list[TaskOutcome] = []
            for task in range(frame.offset, record.n):
                if len(outcomes) >= frame.limit:
                    break
                try:
                    msg = await self._js.get_last_msg(RESULTS, f"tw.result.{record.id}.{task}")
                except NotFoundError:
                    continue  # not finished yet
                got = msgspec.json.decode(msg.data, type=_Outcome)
                outcomes.append(TaskOutcome(task, got.ok, got.value, got.error, got.attempts))
            session.send(encode(JobResultList(job=record.id, results=outcomes, re=frame.id)))

        session.replying(self._spawn(read()))

    def cancel(self, session: Session, frame: JobCancel) -> None:
        record = self._owned(session, frame.job, frame.id)
        if record is None:
            return
        if record.status != "running":
            session.send(encode(Ack(re=frame.id)))
            return
        assert session.user is not None
        self._auditor.audit("job_cancel", session.user.name, session.address, f"job={record.id}")
        stamp = now_ms(self._clock)

        def stop(r: JobRecord | None) -> JobRecord | None:
            if r is None or r.status != "running":
                return r
            return msgspec.structs.replace(r, status="cancelled", finished_ms=stamp)

        async def cancelled() -> None:
            try:
                await self._change(record.id, stop)
            except Exception as exc:  # every NATS failure, reported
                session.send(error_line("internal", f"not cancelled: {exc}", frame.id))
                return
            session.send(encode(Ack(re=frame.id)))  # acked once every hub can see it
            await self._forget_tasks(record.id)

        self._spawn(cancelled())

    # ---- workers -------------------------------------------------------------------------------

    def lease(self, session: Session, frame: TaskLease) -> None:
        if not self._allowed(session, "work", frame.id):
            return
        self._waiting.add(session)
        self._spawn(self._lease(session, frame))

    async def _lease(self, session: Session, frame: TaskLease) -> None:
        until = self._clock.monotonic() + frame.wait_ms / 1000
        while True:
            taken = await self._take(session, frame.max)
            if taken or self._clock.monotonic() >= until or session not in self._waiting:
                break
            await asyncio.sleep(POLL_S)
        self._waiting.discard(session)
        session.send(encode(Tasks(tasks=taken, re=frame.id)))

    async def _take(self, session: Session, most: int) -> list[LeasedTask]:
        """Up to ``most`` tasks, one job after another (fair share)."""
        jobs = self.queue.jobs.values()
        running = [r.id for r in sorted(jobs, key=_age) if r.status == "running"]
        if not running:
            return []
        turn = self._turn % len(running)
        self._turn = turn + 1  # the next lease starts with the next job
        order = running[turn:] + running[:turn]
        taken: list[LeasedTask] = []
        while len(taken) < most and order:
            for job_id in list(order):
                if len(taken) >= most:
                    break
                leased = await self._take_one(session, job_id)
                if leased is None:
                    order.remove(job_id)  # nothing there now
                else:
                    taken.append(leased)
        return taken

    async def _take_one(self, session: Session, job_id: str) -> LeasedTask | None:
        while True:
            record = self.queue.jobs.get(job_id)
            if record is None or record.status != "running":
                return None
            msg = await self._fetch(job_id)
            if msg is None:
                return None
            task, attempt = int(msg.headers["Tw-Task"]), msg.metadata.num_delivered
            if attempt > record.max_attempts:  # its last lease expired: it failed
                await self._store(record, task, False, b"null", "lease expired", attempt - 1)
                await _quietly(msg.term())
                continue
            self._leases[(job_id, task)] = _Lease(session, msg, attempt)
            payload = msgspec.Raw(msg.data)
            return LeasedTask(job_id, task, record.fn, payload, attempt, record.lease_s)

    async def _fetch(self, job_id: str) -> Any:
        try:
            pull = self._pulls.get(job_id)
            if pull is None:
                pull = self._pulls[job_id] = await self._js.pull_subscribe_bind(
                    _consumer(job_id), TASKS
                )
            (msg,) = await pull.fetch(1, timeout=FETCH_S)
            return msg
        except (nats.errors.TimeoutError, TimeoutError):
            return None
        except (NotFoundError, APIError):  # the job's consumer is gone (finished, cancelled)
            self._pulls.pop(job_id, None)
            return None

    def extend(self, session: Session, frame: TaskExtend) -> None:
        lease = self._leases.get((frame.job, frame.task))
        if lease is None or lease.session is not session:
            session.send(error_line("not_found", "no such lease of yours (expired?)", frame.id))
            return

        async def extended() -> None:
            await _quietly(lease.msg.in_progress())
            session.send(encode(Ack(re=frame.id)))

        self._spawn(extended())

    def result(self, session: Session, frame: TaskResult) -> None:
        if self._allowed(session, "work", frame.id):
            self._spawn(self._result(session, frame))

    async def _result(self, session: Session, frame: TaskResult) -> None:
        record = self.queue.jobs.get(frame.job)
        key = (frame.job, frame.task)
        lease = self._leases.get(key)
        if lease is not None and lease.session is not session:
            lease = None  # another worker holds it now: this one's lease expired
        if record is None or record.status != "running":
            session.send(encode(Ack(re=frame.id, n=0)))  # finished already: stored once
            return
        value, ok, error = bytes(frame.value), frame.ok, frame.error
        if ok and len(value) > self.settings.max_result_bytes:
            ok, error = (
                False,
                f"result of {len(value)} bytes; at most {self.settings.max_result_bytes}",
            )
        if not ok and (lease is None or lease.attempt < record.max_attempts):
            if lease is not None:  # attempts left: back in the queue
                del self._leases[key]
                await _quietly(lease.msg.nak())
            session.send(encode(Ack(re=frame.id, n=0)))
            return
        attempts = lease.attempt if lease is not None else 0
        stored = await self._store(
            record, frame.task, ok, value if ok else b"null", error, attempts
        )
        if lease is not None:
            del self._leases[key]
            await _quietly(lease.msg.ack() if ok else lease.msg.term())
        session.send(encode(Ack(re=frame.id, n=int(stored and ok))))

    # ---- helpers -------------------------------------------------------------------------------

    async def _store(
        self,
        record: JobRecord,
        task: int,
        ok: bool,
        value: bytes,
        error: str,
        attempts: int,
        count: bool = True,
    ) -> bool:
        """The task's outcome, stored once over all hubs; False when it was stored before.
        ``count``: added to the job's counts (not when the caller recounts them all)."""
        outcome = _Outcome(ok, msgspec.Raw(value), error if not ok else "", attempts)
        try:
            await self._js.publish(
                f"tw.result.{record.id}.{task}",
                msgspec.json.encode(outcome),
                headers={"Nats-Expected-Last-Subject-Sequence": "0"},
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                return False
            raise
        self._finished.inc(1, "done" if ok else "failed")
        if count:
            self._count(record.id, int(ok), int(not ok))
        return True

    def _count(self, job_id: str, done: int, failed: int) -> None:
        """Add to the job's counts. Results stored meanwhile are added together in one change
        of the job (its changes go one at a time), so counting keeps up with the workers."""
        pending = self._deltas.get(job_id, (0, 0))
        self._deltas[job_id] = (pending[0] + done, pending[1] + failed)
        if job_id not in self._counting:
            self._counting.add(job_id)
            self._spawn(self._apply_counts(job_id))

    async def _apply_counts(self, job_id: str) -> None:
        try:
            while job_id in self._deltas:
                done, failed = self._deltas.pop(job_id)
                try:
                    after = await self._change(job_id, _counted(done, failed, self._clock))
                except Exception:  # NATS away: counted later (and _recount repairs a loss)
                    self._count(job_id, done, failed)
                    await asyncio.sleep(POLL_S * 5)
                    continue
                if after is not None and after.status == "finished":
                    await self._forget_tasks(job_id)
        finally:
            self._counting.discard(job_id)

    async def _recount(self) -> None:
        """Counts from the results themselves, for running jobs whose queue is empty and
        nothing leased yet not finished: a hub that stored a result and died before counting
        it, or before recording a last expired lease, leaves such a job (every 10 s; cheap
        while all is well: one question per running job)."""
        for record in [r for r in self.queue.jobs.values() if r.status == "running"]:
            if record.done + record.failed >= record.n or record.id in self._counting:
                continue
            try:
                info = await self._js.consumer_info(TASKS, _consumer(record.id))
                if info.num_pending or info.num_ack_pending:
                    continue  # tasks still queued or leased: they will be counted
                done, failed, lost = 0, 0, []
                for task in range(record.n):
                    try:
                        msg = await self._js.get_last_msg(RESULTS, f"tw.result.{record.id}.{task}")
                    except NotFoundError:
                        lost.append(task)  # nobody has it and it will not come again
                        continue
                    ok = msgspec.json.decode(msg.data, type=_Outcome).ok
                    done, failed = done + ok, failed + (not ok)
                for task in lost:
                    tries = record.max_attempts
                    if await self._store(
                        record, task, False, b"null", "lease expired", tries, False
                    ):
                        failed += 1
                await self._change(record.id, _recounted(done, failed, now_ms(self._clock)))
            except Exception:  # NATS away: next time
                continue

    async def _change(
        self, job_id: str, change: Callable[[JobRecord | None], JobRecord | None]
    ) -> JobRecord | None:
        """Read-modify-write the job on the bus; returns what was stored."""
        subject = PREFIX + job_id
        self._bus.subscribe(subject, self)
        done: asyncio.Future[Message | Exception] = asyncio.get_running_loop().create_future()

        def stamped(_seq: int) -> tuple[JobRecord | None, bytes]:
            latest = self._bus.latest(subject)
            current = latest.value if latest is not None else None
            new = change(current)
            return new, encode_record(new)

        def finished(result: Message | Exception) -> None:
            if not done.done():
                done.set_result(result)

        self._bus.publish(subject, stamped, finished)
        result = await done
        if isinstance(result, Exception):
            raise result
        self.deliver(result)
        value: JobRecord | None = result.value
        return value

    async def _forget_tasks(self, job_id: str) -> None:
        """A finished or cancelled job's queue and consumer go."""
        self._pulls.pop(job_id, None)
        await _quietly(self._js.delete_consumer(TASKS, _consumer(job_id)))
        await _quietly(self._js.purge_stream(TASKS, subject=f"tw.task.{job_id}"))

    async def _leased(self, job_id: str) -> int:
        try:
            info = await self._js.consumer_info(TASKS, _consumer(job_id))
            return int(info.num_ack_pending)
        except Exception:  # gone (finished) or NATS away: this hub's own count
            return sum(1 for job, _ in self._leases if job == job_id)

    def prune(self) -> None:
        """Delete jobs finished more than ``keep_days`` ago (hourly, and at start)."""
        cutoff = now_ms(self._clock) - int(self.settings.keep_days * 86_400_000)
        for record in list(self.queue.jobs.values()):
            if record.status != "running" and record.finished_ms <= cutoff:
                self._spawn(self._delete(record.id))

    async def _delete(self, job_id: str) -> None:
        await _quietly(self._js.purge_stream(RESULTS, subject=f"tw.result.{job_id}.>"))
        await self._forget_tasks(job_id)
        await self._change(job_id, lambda _r: None)

    async def run(self) -> None:
        """The long-lived upkeep (pruning, recounts); the hub supervises it after ``load``."""
        pruned = -PRUNE_EVERY_S
        while True:
            if self._clock.monotonic() - pruned >= PRUNE_EVERY_S:
                pruned = self._clock.monotonic()
                self.prune()
            await self._recount()
            await asyncio.sleep(RECOUNT_S)

    def _allowed(self, session: Session, action: Any, request_id: RequestId) -> bool:
        return allowed(self._buckets, self._auditor, self._clock, session, action, request_id)

    def _owned(self, session: Session, job_id: str, request_id: RequestId) -> JobRecord | None:
        assert session.user is not None
        record = self.queue.jobs.get(job_id)
        if record is None or not owns(session.user, record.owner):
            session.send(error_line("not_found", f"no job {job_id} of yours", request_id))
            return None
        return record

    def _by_status(self) -> dict[tuple[str, ...], float]:
        return dict(Counter((r.status,) for r in self.queue.jobs.values()))


def _counted(
    done: int, failed: int, clock: Clock
) -> Callable[[JobRecord | None], JobRecord | None]:
    stamp = now_ms(clock)

    def counted(r: JobRecord | None) -> JobRecord | None:
        if r is None:
            return None  # deleted meanwhile
        r = msgspec.structs.replace(r, done=r.done + done, failed=r.failed + failed)
        if r.status == "running" and r.done + r.failed >= r.n:
            r = msgspec.structs.replace(r, status="finished", finished_ms=stamp)
        return r

    return counted


def _recounted(
    done: int, failed: int, stamp: int
) -> Callable[[JobRecord | None], JobRecord | None]:
    def recounted(r: JobRecord | None) -> JobRecord | None:
        if r is None or r.status != "running":
            return r
        fixed = msgspec.structs.replace(r, done=done, failed=failed)
        if done + failed >= r.n:
            fixed = msgspec.structs.replace(fixed, status="finished", finished_ms=stamp)
        return fixed

    return recounted


def _age(record: JobRecord) -> tuple[int, str]:
    return record.created_ms, record.id


def _open(record: JobRecord) -> bool:
    return record.status == "running"


def _consumer(job_id: str) -> str:
    return f"job_{job_id}"


def _info(record: JobRecord, leased: int, request_id: RequestId) -> JobInfo:
    return JobInfo(
        record.id,
        record.fn,
        record.n,
        record.done,
        record.failed,
        leased,
        record.status,
        request_id,
    )


async def _quietly(call: Any) -> None:
    """Acks, naks and clean-ups: a failure (NATS away, already gone) changes nothing we keep."""
    try:
        await call
    except Exception:
        return
