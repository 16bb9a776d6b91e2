"""``kill -9`` in shared computation, all as processes: a worker dies mid-task (its task is
redelivered, every result stored once), then the hub dies mid-job (the job finishes after the
restart, every result once)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.faults.test_hub_crash_copying import serve
from tests.system.test_copy_cli import PASSWORD, TRADEWIRE, run

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TRADEWIRE_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)}


def worker(address: str, user: str, cwd: Path) -> subprocess.Popen[str]:
    command = [TRADEWIRE, "worker", "--trust", "tests.integration.jobfns"]
    return subprocess.Popen(
        [*command, "--hub", address, "--user", user],
        cwd=cwd, env=ENV, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def tradewire(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [TRADEWIRE, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored(tmp_path: Path, job: str) -> list[tuple[int, str, bytes | None, int]]:
    with sqlite3.connect(tmp_path / "tradewire-data" / "jobs.db") as db:
        return list(
            db.execute(
                "SELECT idx, state, result, attempts FROM tasks WHERE job=? ORDER BY idx", (job,)
            )
        )


def wait_done(tmp_path: Path, job: str, n: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while sum(1 for row in stored(tmp_path, job) if row[1] == "done") < n:
        assert time.monotonic() < deadline, stored(tmp_path, job)
        time.sleep(0.1)


def wait_in_the_air(tmp_path: Path, job: str, within: float = 30) -> int:
    """A task leased (its attempt stored) and not finished: returns its index."""
    deadline = time.monotonic() + within

    def leased() -> set[int]:
        return {r[0] for r in stored(tmp_path, job) if r[1] == "pending" and r[3] >= 1}

    while True:
        first = leased()
        time.sleep(0.05)  # still running 50 ms later (the task naps 400 ms)
        if both := first & leased():
            return min(both)
        assert time.monotonic() < deadline, stored(tmp_path, job)


def test_a_worker_then_the_hub_killed_mid_job(tmp_path: Path) -> None:
    for user, role in (("bob", "follower"), ("w1", "worker"), ("w2", "worker")):
        run("user", "add", user, "--role", role, cwd=tmp_path, stdin=PASSWORD + "\n")
    hub, port = serve(tmp_path)
    address = f"127.0.0.1:{port}"
    at = ("--hub", address, "--user", "bob")
    (tmp_path / "tasks.jsonl").write_text("\n".join(["0.4"] * 8) + "\n")
    first = worker(address, "w1", tmp_path)
    procs = [first]
    try:
        job = tradewire(
            "jobs",
            "submit",
            "tests.integration.jobfns:nap",
            "--tasks",
            "tasks.jsonl",
            "--lease-s",
            "2",
            *at,
            cwd=tmp_path,
        ).strip()
        wait_done(tmp_path, job, 1)
        in_the_air = wait_in_the_air(tmp_path, job)
        first.send_signal(signal.SIGKILL)  # mid-task: its lease is in the air
        first.wait(timeout=10)
        procs.append(worker(address, "w2", tmp_path))
        wait_done(tmp_path, job, 4)
        hub.send_signal(signal.SIGKILL)  # mid-job
        hub.wait(timeout=10)
        hub, _ = serve(tmp_path, port)  # the worker reconnects by itself
        wait_done(tmp_path, job, 8)
        status = tradewire("jobs", "status", job, *at, cwd=tmp_path)
        assert "finished; 8 done, 0 failed" in status, status
        rows = stored(tmp_path, job)
        assert [r[0] for r in rows] == list(range(8)) and all(r[1] == "done" for r in rows)
        assert rows[in_the_air][3] >= 2, rows  # the task w1 held was delivered again
        results = [
            json.loads(line)
            for line in tradewire("jobs", "results", job, *at, cwd=tmp_path).splitlines()
        ]
        assert [(r["task"], r["ok"], r["value"]) for r in results] == [
            (n, True, 0.4) for n in range(8)
        ]
    finally:
        for proc in [*procs, hub]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)


def test_a_sweep_on_worker_processes_prints_what_the_local_run_prints(tmp_path: Path) -> None:
    for user, role in (("bob", "follower"), ("w1", "worker"), ("w2", "worker")):
        run("user", "add", user, "--role", role, cwd=tmp_path, stdin=PASSWORD + "\n")
    hub, port = serve(tmp_path)
    address = f"127.0.0.1:{port}"
    workers = [
        subprocess.Popen(
            [TRADEWIRE, "worker", "--trust", "tradewire.jobs", "--hub", address, "--user", name],
            cwd=tmp_path,
            env=ENV,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("w1", "w2")
    ]
    sweep = ("jobs", "sweep", "--fast", "3,5,8", "--slow", "13,21,34", "--bars", "5000")
    try:
        distributed = tradewire(*sweep, "--hub", address, "--user", "bob", cwd=tmp_path)
        local = tradewire(*sweep, "--local", cwd=tmp_path)
    finally:
        for proc in [*workers, hub]:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    rows = [line for line in distributed.splitlines() if line.startswith("│")]
    assert len(rows) == 9 and distributed == local
