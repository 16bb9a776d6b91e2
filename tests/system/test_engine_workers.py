"""``tradewire follow --accounts FILE --workers 2``: two engine processes under one supervisor.
One is killed with SIGKILL while it copies; the supervisor starts it again, and every account
of both ends as the provider's, each position opened once (docs/engine.md, "Several
processes")."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from tests.system.test_copy_cli import PASSWORD, positions, run, spawn
from tests.system.test_engine_cli import opens

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
    for user, role in (("prov", "provider"), ("eng", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha", cwd=tmp_path,
            stdin=PASSWORD + "\n")  # fmt: skip
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    provider = spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
                     "--broker", "paper:prov.db?mode=hedging", cwd=tmp_path)  # fmt: skip
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
        for symbol, side, volume in [("EURUSD", "buy", "0.3"), ("XAUUSD", "sell", "0.2")]:
            run("paper", "order", "--broker", "paper:prov.db", symbol, side, volume, cwd=tmp_path)
        time.sleep(0.6)
        victim = first[0]  # worker 0: h1, h3 and n2 (every other account of the file)
        os.kill(victim, signal.SIGKILL)  # no goodbye, orders possibly in flight
        run("paper", "order", "--broker", "paper:prov.db", "US30", "buy", "1.5", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "sell", "0.1",
            "--position", "1", cwd=tmp_path)  # fmt: skip
        provided = positions(tmp_path / "prov.db")
        netted: dict[tuple[str, str], float] = {}
        for symbol, side, volume in provided:
            netted[(symbol, side)] = round(netted.get((symbol, side), 0.0) + volume, 2)
        expected = {
            **{f"{n}.db": provided for n in NAMES if n[0] == "h"},
            **{f"{n}.db": sorted((s, d, v) for (s, d), v in netted.items()) for n in NAMES
               if n[0] == "n"},
        }  # fmt: skip
        deadline = time.monotonic() + 40
        while {db: positions(tmp_path / db) for db in expected} != expected:
            assert engine.poll() is None, "the supervisor ended"
            assert time.monotonic() < deadline, {db: positions(tmp_path / db) for db in expected}
            time.sleep(0.2)
        for name in NAMES[:3]:  # hedging: one open per provider position, ever
            assert max(opens(tmp_path / f"{name}.db").values()) == 1, opens(tmp_path / f"{name}.db")
        now = workers_of(engine.pid)
        assert len(now) == 2 and victim not in now and first[1] in now, (first, now)
    finally:
        engine.send_signal(signal.SIGTERM)
        code = engine.wait(timeout=30)
        output = engine.stdout.read() if engine.stdout else ""
        for proc in (provider, hub):
            proc.terminate()
            proc.wait(timeout=15)
    assert code == 0, output
    assert "engine worker 0 ended with SIGKILL; restarting it" in output, output
    for pid in now:  # every worker stopped with the supervisor
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
