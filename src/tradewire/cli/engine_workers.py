"""``tradewire follow --accounts FILE --workers N``: the copy engine as N processes on one
machine (docs/engine.md, "Several processes").

One engine process plans its accounts on one core: Python runs one thread of Python at a time.
With ``--workers N`` this process becomes a supervisor: it starts N engine processes, each with
its share of the accounts (``--worker I/N``: every Nth account of the file, a portfolio's
subscriptions together), its own hub session and its own status file, and it

- restarts a worker that dies (a kill -9, an out-of-memory kill) after a pause that doubles up
  to 30 s: the new one opens the same accounts, whose locks died with the old one, and picks
  up from each account's broker and journal as any restarted follower does (each position
  opened once: tests/system/test_engine_workers.py kills one while it copies);
- merges the workers' status files into the engine's one each second, so ``--status`` and
  ``--explain`` work as with one process;
- on SIGINT or SIGTERM, stops every worker (SIGTERM, then SIGKILL after 15 s) and exits; a
  supervisor killed outright takes its workers with it (each gets SIGTERM from the kernel).

The password goes to the workers in their environment, never in their arguments.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tradewire.bus.nats_server import die_with_parent
from tradewire.cli.common import console, fail
from tradewire.cli.engine_explain import request_path
from tradewire.clients.accounts import AccountSpec

log = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STOP_GRACE_S = 15.0


def parse_worker(value: str) -> tuple[int, int]:
    """``I/N`` (0 <= I < N) -> (I, N), or exit with a clear error."""
    index, _, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        fail(f"--worker {value!r}: expected I/N, e.g. 0/2 (it is set by --workers)")
    if not 0 <= i < n:
        fail(f"--worker {value!r}: I must be from 0 to N-1")
    return i, n


def shard(accounts: list[AccountSpec], index: int, count: int) -> list[AccountSpec]:
    """Worker ``index`` of ``count``'s followers: every ``count``-th account of the file, in
    file order, with all of a portfolio account's subscriptions (they share one broker)."""
    names = list(dict.fromkeys(spec.account_name for spec in accounts))
    mine = set(names[index::count])
    return [spec for spec in accounts if spec.account_name in mine]


def worker_status_path(status_path: Path, index: int) -> Path:
    """``accounts.status.json`` -> ``accounts.w1.status.json``."""
    stem = status_path.name.removesuffix(".status.json")
    return status_path.with_name(f"{stem}.w{index}.status.json")


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    pause_s: float = RESTART_FIRST_S
    restarts: int = 0
    status: dict[str, Any] = field(default_factory=dict)


def child_argv(argv: list[str], index: int, count: int) -> list[str]:
    """This command's arguments for worker ``index``: ``--workers N`` becomes ``--worker I/N``
    and ``--password-stdin`` goes (the password is in the worker's environment)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers=") or arg == "--password-stdin":
            continue
        out.append(arg)
    return [sys.executable, "-m", "tradewire", *out, "--worker", f"{index}/{count}"]


def supervise(
    count: int, password: str, status_path: Path, accounts: int, status_command: str
) -> None:
    """Run ``count`` workers until SIGINT/SIGTERM; exit non-zero if every worker ended on an
    error it keeps making (a worker that exits 0 has finished: every account stopped)."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    env = {**os.environ, "TRADEWIRE_PASSWORD": password}
    workers = [Worker(i) for i in range(count)]
    finished: set[int] = set()
    merged_at = 0.0
    console.print(
        f"copying {accounts} accounts with {count} engine processes; see `{status_command}`"
    )
    try:
        while not stopping and len(finished) < count:
            now = time.monotonic()
            for worker in workers:
                if worker.index in finished:
                    continue
                if worker.process is None:
                    if now >= worker.restart_at:
                        _start(worker, env, count)
                    continue
                code = worker.process.poll()
                if code is None:
                    if now - worker.started > 60:  # it ran a while: the next death is news
                        worker.pause_s = RESTART_FIRST_S
                    continue
                worker.process = None
                if code == 0:
                    finished.add(worker.index)
                    log.warning("engine worker %d finished (every account stopped)", worker.index)
                    continue
                worker.restarts += 1
                worker.restart_at = now + worker.pause_s
                log.error(
                    "engine worker %d ended with %s; restarting it in %.0f s (restart %d)",
                    worker.index,
                    _exit_name(code),
                    worker.pause_s,
                    worker.restarts,
                )
                worker.pause_s = min(worker.pause_s * 2, RESTART_MAX_S)
            if now - merged_at >= 1.0:
                merged_at = now
                _merge(workers, status_path)
            time.sleep(0.2)
    finally:
        _stop_all(workers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(worker: Worker, env: dict[str, str], count: int) -> None:
    argv = child_argv(sys.argv[1:], worker.index, count)
    # A worker never outlives its supervisor, even one killed with SIGKILL: a new supervisor
    # would otherwise start a second set beside orphans that nobody watches.
    worker.process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
    )
    worker.started = time.monotonic()


def _exit_name(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"exit status {code}"


def _stop_all(workers: list[Worker]) -> None:
    running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("engine worker pid %d did not stop in %.0f s: killed", process.pid,
                      STOP_GRACE_S)  # fmt: skip
            process.kill()
            process.wait()


def _merge(workers: list[Worker], status_path: Path) -> None:
    """Once a second: the workers' statuses as one, and an --explain request passed on."""
    request = request_path(status_path)
    asked = request.read_text() if request.exists() else None
    for worker in workers:
        path = worker_status_path(status_path, worker.index)
        with contextlib.suppress(OSError, ValueError):
            worker.status = json.loads(path.read_text())
        worker_request = request_path(path)
        if asked is not None:
            worker_request.write_text(asked)
        else:
            worker_request.unlink(missing_ok=True)
    merged = merge_statuses([w.status for w in workers])
    tmp = status_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged))
    tmp.replace(status_path)


def merge_statuses(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' status files as one engine's (CopyEngine.status)."""
    channels = sorted({ch for s in statuses for ch in s.get("channels", [])})
    rows = [row for s in statuses for row in s.get("accounts", [])]
    merged: dict[str, Any] = {
        "channels": channels,
        "states": max((int(s.get("states", 0)) for s in statuses), default=0),
        "accounts": rows,
        "workers": len(statuses),
    }
    # Every worker answers an --explain; one has the account. Another's "no account" is
    # the answer only once every worker said so.
    explained = [s["explained"] for s in statuses if s.get("explained")]
    newest = max((e.get("asked_ms", 0) for e in explained), default=0)
    now = [e for e in explained if e.get("asked_ms") == newest]
    answered = [e for e in now if not e.get("error")]
    if answered:
        merged["explained"] = answered[0]
    elif now and len(now) == len(statuses):
        merged["explained"] = now[0]
    return merged
