"""Jobs and their tasks on disk (``<data>/jobs.db``, WAL, ``synchronous=FULL``), so that a job
finishes after a hub restart with every result stored once (docs/jobs.md).

Writes are operations group-committed on one thread (:class:`GroupCommitter`); the scheduler
(hub/services/jobs/queue.py) keeps the live view in memory and reloads it from here at start.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tradewire.exceptions import StoreError
from tradewire.store.committer import GroupCommitter
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], object]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, fn TEXT NOT NULL,
    n INTEGER NOT NULL, max_attempts INTEGER NOT NULL, lease_s REAL NOT NULL,
    status TEXT NOT NULL, created_ms INTEGER NOT NULL, finished_ms INTEGER);
CREATE TABLE IF NOT EXISTS tasks (job TEXT NOT NULL, idx INTEGER NOT NULL, payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'pending', result BLOB,
    error TEXT NOT NULL DEFAULT '', PRIMARY KEY (job, idx)) WITHOUT ROWID;
"""


@dataclass
class StoredJob:
    id: str
    owner: str
    fn: str
    n: int
    max_attempts: int
    lease_s: float
    status: str
    done: int
    failed: int
    open_tasks: list[tuple[int, int, bytes]]  # (index, attempts, payload) of open tasks


class JobStore:
    def __init__(self, data_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.path = data_dir / "jobs.db"
        self._data_dir = data_dir
        self._committer: GroupCommitter[Op, object] = GroupCommitter(
            "jobs", self._open, loop, max_batch=10_000
        )

    def _open(self) -> tuple[Callable[[list[Op]], list[object]], Callable[[], None]]:
        try:
            private_dir(self._data_dir)
            private_file(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._conn = conn

        def commit(ops: list[Op]) -> list[object]:
            results: list[object] = []
            with transaction(conn, self.path, "jobs not stored"):
                for op in ops:
                    results.append(op(conn))
            return results

        return commit, conn.close

    def start(self) -> None:
        self._committer.start()

    def stop(self) -> None:
        self._committer.stop()

    def submit(self, op: Op, done: Callable[[object], None] | None = None) -> None:
        self._committer.put(op, done)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._committer.call(lambda: fn(self._conn))

    async def flush(self) -> None:
        await self._committer.flush()


# ---- operations (run on the store's thread) ----------------------------------------------


def add_job(job: StoredJob, payloads: list[bytes], now_ms: int) -> Op:
    def op(db: sqlite3.Connection) -> object:
        db.execute(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,NULL)",
            (job.id, job.owner, job.fn, job.n, job.max_attempts, job.lease_s, job.status, now_ms),
        )
        db.executemany(
            "INSERT INTO tasks (job, idx, payload) VALUES (?,?,?)",
            [(job.id, i, p) for i, p in enumerate(payloads)],
        )
        return None

    return op


def add_tasks(job: str, first: int, payloads: list[bytes]) -> Op:
    def op(db: sqlite3.Connection) -> object:
        db.executemany(
            "INSERT INTO tasks (job, idx, payload) VALUES (?,?,?)",
            [(job, first + i, p) for i, p in enumerate(payloads)],
        )
        db.execute("UPDATE jobs SET n = n + ? WHERE id = ?", (len(payloads), job))
        return None

    return op


def count_attempt(job: str, task: int) -> Op:
    def op(db: sqlite3.Connection) -> object:
        db.execute("UPDATE tasks SET attempts = attempts + 1 WHERE job=? AND idx=?", (job, task))
        return None

    return op


def finish_task(job: str, task: int, ok: bool, result: bytes | None, error: str) -> Op:
    """Store an outcome once: a task already finished keeps its first outcome (returns 0)."""

    def op(db: sqlite3.Connection) -> object:
        cur = db.execute(
            "UPDATE tasks SET state=?, result=?, error=? WHERE job=? AND idx=? AND state='pending'",
            ("done" if ok else "failed", result, error, job, task),
        )
        return cur.rowcount

    return op


def set_status(job: str, status: str, now_ms: int) -> Op:
    def op(db: sqlite3.Connection) -> object:
        db.execute("UPDATE jobs SET status=?, finished_ms=? WHERE id=?", (status, now_ms, job))
        return None

    return op


def prune(older_than_ms: int) -> Op:
    def op(db: sqlite3.Connection) -> object:
        gone = [r[0] for r in db.execute(
            "SELECT id FROM jobs WHERE finished_ms IS NOT NULL AND finished_ms < ?",
            (older_than_ms,),
        )]  # fmt: skip
        for job in gone:
            db.execute("DELETE FROM tasks WHERE job=?", (job,))
            db.execute("DELETE FROM jobs WHERE id=?", (job,))
        return gone

    return op


# ---- reads -------------------------------------------------------------------------------


def load_jobs(db: sqlite3.Connection) -> list[StoredJob]:
    jobs = []
    query = "SELECT id, owner, fn, n, max_attempts, lease_s, status FROM jobs"
    for job_id, owner, fn, n, max_attempts, lease_s, status in db.execute(query).fetchall():
        counts = dict(
            db.execute("SELECT state, count(*) FROM tasks WHERE job=? GROUP BY state", (job_id,))
        )
        open_tasks = [
            (r[0], r[1], bytes(r[2]))
            for r in db.execute(
                "SELECT idx, attempts, payload FROM tasks WHERE job=? AND state='pending' "
                "ORDER BY idx",
                (job_id,),
            )
        ]
        done, failed = counts.get("done", 0), counts.get("failed", 0)
        jobs.append(
            StoredJob(job_id, owner, fn, n, max_attempts, lease_s, status, done, failed, open_tasks)
        )
    return jobs


def results(
    db: sqlite3.Connection, job: str, offset: int, limit: int
) -> list[tuple[int, str, bytes | None, str, int]]:
    """(index, state, result, error, attempts) of finished tasks from ``offset``, by index."""
    return [
        (r[0], r[1], bytes(r[2]) if r[2] is not None else None, r[3], r[4])
        for r in db.execute(
            "SELECT idx, state, result, error, attempts FROM tasks WHERE job=? AND "
            "state != 'pending' AND idx >= ? ORDER BY idx LIMIT ?",
            (job, offset, limit),
        )
    ]
