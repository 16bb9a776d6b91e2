"""``kill -9`` of the hub while a provider trades and two followers copy, all as processes: the
followers keep their positions, reconnect to the restarted hub, converge, and the paper
brokers' order logs show no duplicate order."""

from __future__ import annotations

import collections
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.system.test_copy_cli import PASSWORD, positions, run, spawn


def serve(
    tmp_path: Path, port: str = "0", config: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    extra = ["--config", config] if config else []
    hub = spawn("serve", "--host", "127.0.0.1", "--port", port, *extra, cwd=tmp_path)
    assert hub.stdout is not None
    # The "listening on HOST:PORT" line; with [nats] a line about shared users may come first.
    lines = []
    for _ in range(20):
        line = hub.stdout.readline()
        lines.append(line)
        found = re.search(r"listening on \S+:(\d+)\s*$", line)
        if found or not line:
            break
    assert found, f"the hub did not start (exit {hub.poll()}): {''.join(lines)!r}"
    return hub, found.group(1)


def wait_in_sync(tmp_path: Path, follower_db: str, suffix: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        expected = [(s + suffix, side, v) for s, side, v in positions(tmp_path / "prov.db")]
        if positions(tmp_path / follower_db) == expected:
            return
        assert time.monotonic() < deadline, (positions(tmp_path / follower_db), expected)
        time.sleep(0.2)


def test_hub_killed_with_sigkill_while_copying(tmp_path: Path) -> None:
    for user, role in (("prov", "provider"), ("fol1", "follower"), ("fol2", "follower")):
        run(
            "user",
            "add",
            user,
            "--role",
            role,
            "--channel",
            "alpha",
            cwd=tmp_path,
            stdin=PASSWORD + "\n",
        )
    hub, port = serve(tmp_path)
    address = f"127.0.0.1:{port}"
    provider = spawn(
        "provide",
        "--hub",
        address,
        "--user",
        "prov",
        "--channel",
        "alpha",
        "--broker",
        "paper:prov.db?mode=hedging",
        "--refresh-s",
        "1",
        cwd=tmp_path,
    )
    followers = [
        spawn(
            "follow",
            "--hub",
            address,
            "--user",
            "fol1",
            "--channel",
            "alpha",
            "--broker",
            "paper:fol1.db?mode=hedging&suffix=.m",
            "--suffix",
            ".m",
            cwd=tmp_path,
        ),
        spawn(
            "follow",
            "--hub",
            address,
            "--user",
            "fol2",
            "--channel",
            "alpha",
            "--broker",
            "paper:fol2.db?mode=hedging",
            cwd=tmp_path,
        ),
    ]
    try:
        time.sleep(1.5)
        for symbol, side, volume in [("EURUSD", "buy", "0.3"), ("XAUUSD", "sell", "0.2")]:
            run("paper", "order", "--broker", "paper:prov.db", symbol, side, volume, cwd=tmp_path)
        wait_in_sync(tmp_path, "fol1.db", ".m")
        run("paper", "order", "--broker", "paper:prov.db", "US30", "buy", "1.5", cwd=tmp_path)
        hub.send_signal(signal.SIGKILL)  # the state of US30 may or may not have been stored
        hub.wait(timeout=10)
        held = {db: positions(tmp_path / db) for db in ("fol1.db", "fol2.db")}
        run(
            "paper", "order", "--broker", "paper:prov.db", "GBPUSD", "sell", "0.4", cwd=tmp_path
        )  # traded while the hub is down
        time.sleep(1.0)
        for db, before in held.items():  # nobody closed or added anything on their own
            assert positions(tmp_path / db) == before, db
        hub, _ = serve(tmp_path, port)
        wait_in_sync(tmp_path, "fol1.db", ".m")
        wait_in_sync(tmp_path, "fol2.db", "")
        for db in ("fol1.db", "fol2.db"):
            with sqlite3.connect(tmp_path / db) as conn:
                opens = collections.Counter(
                    c.split(":")[1]
                    for (c,) in conn.execute(
                        "SELECT comment FROM orders WHERE status='filled' AND position_id IS NULL"
                    )
                )
            assert len(opens) == 4 and max(opens.values()) == 1, (db, opens)
    finally:
        for proc in (*followers, provider, hub):
            proc.send_signal(signal.SIGTERM)
        for proc in (*followers, provider, hub):
            assert proc.wait(timeout=15) == 0
