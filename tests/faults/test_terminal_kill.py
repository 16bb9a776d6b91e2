"""``kill -9`` of a simulated bridge terminal, then of the follower, each while an order is in
flight (filled in the terminal's account, its answer not yet sent), all as processes: every
copy is executed once, and the follower's account converges on the provider's."""

from __future__ import annotations

import collections
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from tests.faults.test_hub_crash_copying import serve, wait_in_sync
from tests.system.test_copy_cli import PASSWORD, run, spawn


def filled(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(
                conn.execute("SELECT count(*) FROM orders WHERE status='filled'").fetchone()[0]
            )
    except sqlite3.OperationalError:
        return 0  # not created yet


def wait_filled(db: Path, n: int, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while filled(db) < n:
        assert time.monotonic() < deadline, f"{db.name}: {filled(db)} fills, waiting for {n}"
        time.sleep(0.02)


def opens_per_link(db: Path) -> collections.Counter[str]:
    with sqlite3.connect(db) as conn:
        return collections.Counter(
            comment.split(":")[1]
            for (comment,) in conn.execute(
                "SELECT comment FROM orders WHERE status='filled' AND position_id IS NULL"
            )
        )


def wait_output(proc: subprocess.Popen[str], text: str, within: float = 30) -> None:
    """Read ``proc``'s output until a line holds ``text`` (on a thread: a read blocks)."""
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(within), f"{text!r} never printed"


def test_terminal_and_follower_killed_mid_order_execute_each_copy_once(tmp_path: Path) -> None:
    for user, role, grants in (
        ("prov", "provider", ["alpha"]),
        ("fol", "follower", ["alpha", "relay:term1"]),
        ("term1", "follower", []),
    ):
        flags = [arg for grant in grants for arg in ("--channel", grant)]
        run("user", "add", user, "--role", role, *flags, cwd=tmp_path, stdin=PASSWORD + "\n")
    hub, port = serve(tmp_path)
    address = f"127.0.0.1:{port}"

    def terminal() -> subprocess.Popen[str]:
        # Slow to answer: each order is filled 0.8 s before the follower hears of it.
        return spawn(
            "terminal", "sim", "--broker", "paper:term1.db", "--answer-delay-ms", "800",
            "--hub", address, "--user", "term1", cwd=tmp_path,
        )  # fmt: skip

    def follower() -> subprocess.Popen[str]:
        return spawn(
            "follow", "--hub", address, "--user", "fol", "--channel", "alpha",
            "--broker", f"terminal:term1?hub={address}&user=fol", cwd=tmp_path,
        )  # fmt: skip

    provider = spawn(
        "provide", "--hub", address, "--user", "prov", "--channel", "alpha",
        "--broker", "paper:prov.db?mode=hedging", "--refresh-s", "1", cwd=tmp_path,
    )  # fmt: skip
    term, fol = terminal(), follower()
    procs = [provider, hub]
    try:
        time.sleep(1.5)
        run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "buy", "0.3", cwd=tmp_path)
        wait_filled(tmp_path / "term1.db", 1)
        term.send_signal(signal.SIGKILL)  # filled there, answer not sent
        term.wait(timeout=10)
        term = terminal()
        wait_in_sync(tmp_path, "term1.db", "")
        run("paper", "order", "--broker", "paper:prov.db", "XAUUSD", "sell", "0.2", cwd=tmp_path)
        wait_filled(tmp_path / "term1.db", 2)
        fol.send_signal(signal.SIGKILL)  # the follower dies waiting for the answer
        fol.wait(timeout=10)
        fol = follower()
        # Copying again (its signal handlers are set from here on: a SIGTERM before, under a
        # loaded CI machine, ended it with -15 instead of a clean exit)
        wait_output(fol, "following alpha")
        wait_in_sync(tmp_path, "term1.db", "")
        time.sleep(1.5)  # a doubled order would show up by now
        wait_in_sync(tmp_path, "term1.db", "")
        opens = opens_per_link(tmp_path / "term1.db")
        assert len(opens) == 2 and max(opens.values()) == 1, opens
        assert filled(tmp_path / "term1.db") == 2
    finally:
        procs += [term, fol]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=15) for proc in procs]
        for proc in procs:
            if proc.stdout is not None:
                proc.stdout.close()
    assert codes == [0, 0, 0, 0], codes
