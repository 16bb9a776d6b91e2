"""What the copy engine's fault tests share: a hub with a paper provider on alpha, the provider's
trades around a kill, and every account checked against the provider's positions."""

from __future__ import annotations

import collections
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.system.test_copy_cli import PASSWORD, positions, run, spawn


def opens(db: Path) -> collections.Counter[str]:
    """Filled orders that opened a position, per link key: more than 1 is a duplicate."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT symbol, comment FROM orders WHERE status='filled' AND position_id IS NULL"
        )
        return collections.Counter(f"{s}:{c.split(':')[1] if ':' in c else ''}" for s, c in rows)


def hub_and_provider(tmp_path: Path) -> tuple[str, list[subprocess.Popen[str]]]:
    """Users prov (provider) and eng (follower) on alpha, a hub and a paper provider: the hub's
    address and the processes, the hub last."""
    for user, role in (("prov", "provider"), ("eng", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha", cwd=tmp_path,
            stdin=PASSWORD + "\n")  # fmt: skip
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    provider = spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
                     "--broker", "paper:prov.db?mode=hedging", cwd=tmp_path)  # fmt: skip
    return address, [provider, hub]


def trade_around(tmp_path: Path, kill: Callable[[], None]) -> float:
    """Two opens, ``kill`` while their copies may be in flight, then an open and a partial
    close; returns when ``kill`` was done."""
    for symbol, side, volume in [("EURUSD", "buy", "0.3"), ("XAUUSD", "sell", "0.2")]:
        run("paper", "order", "--broker", "paper:prov.db", symbol, side, volume, cwd=tmp_path)
    time.sleep(0.5)
    kill()
    killed_at = time.monotonic()
    run("paper", "order", "--broker", "paper:prov.db", "US30", "buy", "1.5", cwd=tmp_path)
    run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "sell", "0.1",
        "--position", "1", cwd=tmp_path)  # fmt: skip
    return killed_at


def converged_once(tmp_path: Path, names: list[str], alive: Callable[[], bool]) -> None:
    """Every account (``h…`` hedging, ``n…`` netting, at multiplier 1) holds the provider's
    positions within 40 s, and each hedging one opened each position once."""
    provided = positions(tmp_path / "prov.db")
    netted: dict[tuple[str, str], float] = {}
    for symbol, side, volume in provided:
        netted[(symbol, side)] = round(netted.get((symbol, side), 0.0) + volume, 2)
    as_netted = sorted((s, d, v) for (s, d), v in netted.items())
    expected = {f"{n}.db": provided if n[0] == "h" else as_netted for n in names}
    deadline = time.monotonic() + 40
    while {db: positions(tmp_path / db) for db in expected} != expected:
        assert alive(), "the engine ended"
        assert time.monotonic() < deadline, {db: positions(tmp_path / db) for db in expected}
        time.sleep(0.2)
    for name in names:
        if name[0] == "h":
            assert max(opens(tmp_path / f"{name}.db").values()) == 1, opens(tmp_path / f"{name}.db")
