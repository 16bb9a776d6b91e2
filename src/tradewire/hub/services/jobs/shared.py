"""Shared computation across hubs on NATS JetStream (docs/jobs.md, docs/scaling.md): the job
backend (hub/services/jobs/backend.py) of a hub with ``[nats]``, under the same
:class:`~tradewire.hub.services.jobs.service.JobService` and the same guarantees as a hub's
own jobs.db, with the queue in JetStream so that a job submitted through one hub is worked on
by workers of every hub.

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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
from nats.js import api
from nats.js.errors import APIError, NotFoundError

from tradewire.bus.base import Message
from tradewire.bus.nats import WRONG_LAST_SEQUENCE, NatsBus
from tradewire.clock import Clock, now_ms
from tradewire.hub.events import HubEvents
from tradewire.hub.service import Session
from tradewire.hub.services.jobs.backend import JobView
from tradewire.hub.sharing.follow import follow_subjects
from tradewire.metrics import Metrics
from tradewire.protocol.messages import JobSubmit, LeasedTask, TaskOutcome

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


class JetStreamJobs:
    sweep_s = RECOUNT_S

    def __init__(
        self,
        bus: NatsBus,
        clock: Clock,
        metrics: Metrics,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        events: HubEvents,
        replicas: int = 1,
    ) -> None:
        self._bus, self._clock, self._spawn = bus, clock, spawn
        self._replicas = replicas
        self._jobs: dict[str, JobRecord] = {}  # every hub's jobs, as the bus has them
        self._leases: dict[tuple[str, int], _Lease] = {}
        self._pulls: dict[str, Any] = {}  # job -> its pull subscription on this hub
        self._deltas: dict[str, tuple[int, int]] = {}  # results stored, not yet counted
        self._counting: set[str] = set()  # jobs whose counts are being changed
        self._turn = 0
        self._finished = metrics.counter(
            "tradewire_job_tasks_total", "tasks finished, by outcome", ("outcome",)
        )
        follow_subjects(events, bus, PREFIX, self)

    @property
    def _js(self) -> Any:
        return self._bus.jetstream

    def job(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[JobView]:
        return [*sorted(self._jobs.values(), key=_age)]

    def held_by(self, owner: str) -> tuple[int, int]:
        """A running job's tasks count whole until it ends: JetStream does not say which
        are done."""
        mine = [r for r in self._jobs.values() if r.owner == owner and _open(r)]
        return sum(r.bytes for r in mine), len(mine)

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

    def deliver(self, message: Message) -> None:
        """A job as the bus has it now (another hub's change, or ours come back)."""
        record: JobRecord | None = message.value
        job_id = message.subject[len(PREFIX) :]
        if record is None:
            self._jobs.pop(job_id, None)
        else:
            self._jobs[job_id] = record

    async def create(self, owner: str, frame: JobSubmit, size: int) -> JobRecord:
        job_id = secrets.token_hex(8)
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
        return await self._change(job_id, lambda _current: record) or record

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

    async def add(self, job: JobView, tasks: list[msgspec.Raw], size: int) -> JobRecord:
        k = len(tasks)
        # the indexes first (another hub may add at the same time), then the tasks
        grown = await self._change(
            job.id, lambda r: r and msgspec.structs.replace(r, n=r.n + k, bytes=r.bytes + size)
        )
        if grown is None:
            raise LookupError(f"job {job.id} is gone")
        await self._put_tasks(job.id, grown.n - k, tasks)
        return grown

    async def cancel(self, job: JobView) -> None:
        stamp = now_ms(self._clock)

        def stop(r: JobRecord | None) -> JobRecord | None:
            if r is None or r.status != "running":
                return r
            return msgspec.structs.replace(r, status="cancelled", finished_ms=stamp)

        await self._change(job.id, stop)
        self._spawn(self._forget_tasks(job.id))

    async def results(self, job: JobView, offset: int, limit: int) -> list[TaskOutcome]:
        outcomes: list[TaskOutcome] = []
        for task in range(offset, job.n):
            if len(outcomes) >= limit:
                break
            try:
                msg = await self._js.get_last_msg(RESULTS, f"tw.result.{job.id}.{task}")
            except NotFoundError:
                continue  # not finished yet
            got = msgspec.json.decode(msg.data, type=_Outcome)
            outcomes.append(TaskOutcome(task, got.ok, got.value, got.error, got.attempts))
        return outcomes

    async def leased(self, job: JobView) -> int:
        try:
            info = await self._js.consumer_info(TASKS, _consumer(job.id))
            return int(info.num_ack_pending)
        except Exception:  # gone (finished) or NATS away: this hub's own count
            return sum(1 for job_id, _ in self._leases if job_id == job.id)

    async def take(self, worker: Session, most: int) -> list[LeasedTask]:
        """Up to ``most`` tasks, one job after another (fair share)."""
        running = [r.id for r in sorted(self._jobs.values(), key=_age) if r.status == "running"]
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
                leased = await self._take_one(worker, job_id)
                if leased is None:
                    order.remove(job_id)  # nothing there now
                else:
                    taken.append(leased)
        return taken

    async def _take_one(self, session: Session, job_id: str) -> LeasedTask | None:
        while True:
            record = self._jobs.get(job_id)
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

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, POLL_S))  # JetStream is asked again

    async def extend(self, worker: Session, job_id: str, task: int) -> bool:
        lease = self._leases.get((job_id, task))
        if lease is None or lease.session is not worker:
            return False
        await _quietly(lease.msg.in_progress())
        return True

    async def finish(
        self, worker: Session, job_id: str, task: int, ok: bool, value: bytes, error: str
    ) -> int:
        record = self._jobs.get(job_id)
        key = (job_id, task)
        lease = self._leases.get(key)
        if lease is not None and lease.session is not worker:
            lease = None  # another worker holds it now: this one's lease expired
        if record is None or record.status != "running":
            return 0  # finished already: stored once
        if not ok and (lease is None or lease.attempt < record.max_attempts):
            if lease is not None:  # attempts left: back in the queue
                del self._leases[key]
                await _quietly(lease.msg.nak())
            return 0
        attempts = lease.attempt if lease is not None else 0
        stored = await self._store(record, task, ok, value if ok else b"null", error, attempts)
        if lease is not None:
            del self._leases[key]
            await _quietly(lease.msg.ack() if ok else lease.msg.term())
        return int(stored and ok)

    def release(self, worker: Session) -> None:
        for key in [k for k, lease in self._leases.items() if lease.session is worker]:
            lease = self._leases.pop(key)
            self._spawn(_quietly(lease.msg.nak()))  # the task waits for another worker

    def prune(self, finished_before_ms: int) -> None:
        for record in list(self._jobs.values()):
            if record.status != "running" and record.finished_ms <= finished_before_ms:
                self._spawn(self._delete(record.id))

    async def sweep(self) -> None:
        await self._recount()

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
        for record in [r for r in self._jobs.values() if r.status == "running"]:
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

    async def _delete(self, job_id: str) -> None:
        await _quietly(self._js.purge_stream(RESULTS, subject=f"tw.result.{job_id}.>"))
        await self._forget_tasks(job_id)
        await self._change(job_id, lambda _r: None)


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


async def _quietly(call: Any) -> None:
    """Acks, naks and clean-ups: a failure (NATS away, already gone) changes nothing we keep."""
    try:
        await call
    except Exception:
        return
