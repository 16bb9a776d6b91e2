"""``tradewire follow --accounts FILE --workers 2``: two engine processes under one supervisor.
One is killed with SIGKILL while it copies; the supervisor starts it again, and every account
of both ends as the provider's, each position opened once (docs/engine.md, "Several
processes")."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.system.engine_rig import converged_once, hub_and_provider, trade_around
from tests.system.test_copy_cli import spawn

NAMES = ["h1", "h2", "h3", "n1", "n2", "n3"]
ACCOUNTS = "".join(
    f'[[account]]\nname = "{n}"\nchannel = "alpha"\n'
    f'broker = "paper:{n}.db?mode={"hedging" if n[0] == "h" else "netting"}"\n'
    for n in NAMES
)


def workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def merged_status(cwd: Path) -> dict[str, object]:
    try:
        return json.loads((cwd / "accounts.status.json").read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def test_one_worker_of_two_killed_while_copying_every_account_converges_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    address, others = hub_and_provider(tmp_path)
    now: list[int] = []
    engine = spawn("follow", "--hub", address, "--user", "eng", "--accounts", "accounts.toml",
                   "--workers", "2", cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(merged_status(tmp_path).get("accounts", [])) < len(NAMES):  # type: ignore[arg-type]
            assert engine.poll() is None, engine.stdout.read() if engine.stdout else ""
            assert time.monotonic() < deadline, merged_status(tmp_path)
            time.sleep(0.2)
        first = workers_of(engine.pid)
        assert len(first) == 2, first
        time.sleep(1.0)  # both subscribed (the status is written once they are)
        victim = first[0]  # worker 0: h1, h3 and n2 (every other account of the file)
        # no goodbye, orders possibly in flight
        trade_around(tmp_path, lambda: os.kill(victim, signal.SIGKILL))
        converged_once(tmp_path, NAMES, lambda: engine.poll() is None)
        now = workers_of(engine.pid)
        assert len(now) == 2 and victim not in now and first[1] in now, (first, now)
    finally:
        engine.send_signal(signal.SIGTERM)
        code = engine.wait(timeout=30)
        output = engine.stdout.read() if engine.stdout else ""
        for proc in others:
            proc.terminate()
            proc.wait(timeout=15)
    assert code == 0, output
    assert "engine worker 0 ended with SIGKILL; restarting it" in output, output
    for pid in now:  # every worker stopped with the supervisor
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_workers_do_not_outlive_a_supervisor_killed_with_sigkill(tmp_path: Path) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    address, others = hub_and_provider(tmp_path)
    engine = spawn("follow", "--hub", address, "--user", "eng", "--accounts", "accounts.toml",
                   "--workers", "2", cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(workers := workers_of(engine.pid)) < 2:
            assert time.monotonic() < deadline and engine.poll() is None
            time.sleep(0.2)
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
        deadline = time.monotonic() + 20
        while alive := [pid for pid in workers if Path(f"/proc/{pid}").exists()]:
            assert time.monotonic() < deadline, f"workers {alive} outlived their supervisor"
            time.sleep(0.2)
    finally:
        for proc in others:
            proc.terminate()
            proc.wait(timeout=15)
