"""``kill -9`` in shared computation over NATS, all as processes: two hubs share one
nats-server; a worker dies mid-task, then the hub the job was submitted through dies. The job
finishes through the other hub, every result stored once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.faults.test_hub_crash_copying import serve
from tests.faults.test_jobs_kill import tradewire, worker
from tests.system.test_copy_cli import PASSWORD, run
from tradewire.bus.nats_server import NatsServer


def nats_hub(tmp_path: Path, name: str, nats: NatsServer) -> tuple[subprocess.Popen[str], str]:
    home = tmp_path / name
    home.mkdir()
    (home / "hub.toml").write_text(f'[nats]\nservers = ["{nats.url}"]\n')
    for user, role in (("bob", "follower"), ("w1", "worker"), ("w2", "worker")):
        run("user", "add", user, "--role", role, cwd=home, stdin=PASSWORD + "\n")
    hub, port = serve(home, config="hub.toml")
    return hub, f"127.0.0.1:{port}"


def done(status: str) -> int:
    found = re.search(r"(\d+) done", status)
    assert found, status
    return int(found.group(1))


def test_a_worker_then_the_hub_of_the_job_killed(tmp_path: Path, nats_server: NatsServer) -> None:
    (a, at_a), (b, at_b) = (
        nats_hub(tmp_path, "a", nats_server),
        nats_hub(tmp_path, "b", nats_server),
    )
    via_b = ("--hub", at_b, "--user", "bob")
    (tmp_path / "tasks.jsonl").write_text("\n".join(["0.4"] * 8) + "\n")
    first = worker(at_a, "w1", tmp_path)
    second = worker(f"{at_b},{at_a}", "w2", tmp_path)
    try:
        job = tradewire(
            "jobs", "submit", "tests.integration.jobfns:nap", "--tasks", "tasks.jsonl",
            "--lease-s", "2", "--hub", at_a, "--user", "bob", cwd=tmp_path,
        ).strip()  # fmt: skip
        deadline = time.monotonic() + 60
        while done(tradewire("jobs", "status", job, *via_b, cwd=tmp_path)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # most likely mid-task: its lease is in the air
        a.send_signal(signal.SIGKILL)  # the hub the job was submitted through
        first.wait(timeout=10)
        a.wait(timeout=10)
        while "finished" not in (status := tradewire("jobs", "status", job, *via_b, cwd=tmp_path)):
            assert time.monotonic() < deadline + 60, status
            time.sleep(0.2)
        assert "finished; 8 done, 0 failed" in status, status
        results = [
            json.loads(line)
            for line in tradewire("jobs", "results", job, *via_b, cwd=tmp_path).splitlines()
        ]
        assert [(r["task"], r["ok"], r["value"]) for r in results] == [
            (n, True, 0.4) for n in range(8)
        ]
    finally:
        for proc in (first, second, a, b):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
