"""Copy protection as a user meets it: a netting follower account with a manual position, and
a second `tradewire follow` started on the same account."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.system.test_copy_cli import PASSWORD, TRADEWIRE, run, spawn

MAGIC = 7_400_001


def own_fills(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE status = 'filled' AND magic = ?", (MAGIC,)
        ).fetchone()
    return int(n)


def net(db: Path, symbol: str) -> float:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT side, volume FROM positions WHERE symbol = ?", (symbol,))
        return round(sum(v if s == "buy" else -v for s, v in rows), 8)


def test_manual_netting_volume_is_left_alone_and_a_second_follower_is_refused(
    tmp_path: Path,
) -> None:
    for user, role in (("prov", "provider"), ("fol", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha", "--channel", "beta",
            cwd=tmp_path, stdin=PASSWORD + "\n")  # fmt: skip
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    # The trader's own 0.05 on the follower account, before any copying.
    run("paper", "order", "--broker", "paper:fol.db?mode=netting", "EURUSD", "buy", "0.05",
        cwd=tmp_path)  # fmt: skip
    run("paper", "order", "--broker", "paper:prov.db?mode=hedging", "EURUSD", "buy", "0.1",
        cwd=tmp_path)  # fmt: skip
    provider = spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
                     "--broker", "paper:prov.db", cwd=tmp_path)  # fmt: skip
    follow = ("follow", "--hub", address, "--user", "fol", "--broker", "paper:fol.db")
    follower = spawn(*follow, "--channel", "alpha", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while net(tmp_path / "fol.db", "EURUSD") != 0.15:
            assert time.monotonic() < deadline, net(tmp_path / "fol.db", "EURUSD")
            time.sleep(0.2)
        time.sleep(2.0)  # many rounds: a runaway would keep buying
        assert own_fills(tmp_path / "fol.db") == 1
        assert net(tmp_path / "fol.db", "EURUSD") == 0.15
        second = subprocess.run(
            [TRADEWIRE, *follow, "--channel", "beta"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
            env={"TRADEWIRE_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert second.returncode != 0
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "already followed by `tradewire follow` of fol on channel alpha" in lines[0]
        assert follower.poll() is None  # the first one keeps running
        status = run("follow", "--user", "fol", "--channel", "alpha", "--status", cwd=tmp_path)
        deadline = time.monotonic() + 10
        while "not the follower's" not in status:
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
            status = run("follow", "--user", "fol", "--channel", "alpha", "--status", cwd=tmp_path)
        row = next(line for line in status.splitlines() if "EURUSD" in line and "+0.05" in line)
        assert "+0.15" in row and "+0.10" in row
    finally:
        for proc in (follower, provider, hub):
            proc.send_signal(signal.SIGTERM)
        for proc in (follower, provider, hub):
            assert proc.wait(timeout=10) == 0


def paper_json(db: str, cwd: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(run("paper", "positions", "--broker", f"paper:{db}", "--json", cwd=cwd))


def test_stops_hold_at_the_followers_broker_after_kill_9(tmp_path: Path) -> None:
    """Provider and follower killed with SIGKILL; a price pinned through the stop-loss closes
    the follower's position at its broker, with nothing of tradewire running."""
    for user, role in (("prov", "provider"), ("fol", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha",
            cwd=tmp_path, stdin=PASSWORD + "\n")  # fmt: skip
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    quote = run("paper", "quote", "--broker", "paper:prov.db?mode=hedging", "EURUSD",
                cwd=tmp_path)  # fmt: skip
    bid = float(re.search(r"bid ([\d.]+)", quote).group(1))  # type: ignore[union-attr]
    sl, tp = round(bid - 0.0040, 5), round(bid + 0.0060, 5)
    run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "buy", "0.3",
        "--sl", str(sl), "--tp", str(tp), cwd=tmp_path)  # fmt: skip
    provider = spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
                     "--broker", "paper:prov.db", cwd=tmp_path)  # fmt: skip
    follower = spawn("follow", "--hub", address, "--user", "fol", "--channel", "alpha",
                     "--broker", "paper:fol.db?mode=netting", cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "fol.db").exists() or not paper_json("fol.db", tmp_path)["positions"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        (pos,) = paper_json("fol.db", tmp_path)["positions"]
        assert (pos["side"], pos["volume"], pos["sl"], pos["tp"]) == ("buy", 0.3, sl, tp)
        # The provider moves its stop: one modification reaches the follower's broker.
        provider_pos = paper_json("prov.db", tmp_path)["positions"][0]
        moved = round(sl + 0.0010, 5)
        started = time.monotonic()
        run("paper", "modify", "--broker", "paper:prov.db", provider_pos["id"],
            "--sl", str(moved), "--tp", str(tp), cwd=tmp_path)  # fmt: skip
        while paper_json("fol.db", tmp_path)["positions"][0]["sl"] != moved:
            assert time.monotonic() - started < 3.0, "the SL change took more than 3 s"
            time.sleep(0.05)
        deadline = time.monotonic() + 10  # --status: the stops, target against held
        while True:
            status = run("follow", "--user", "fol", "--channel", "alpha", "--status",
                         cwd=tmp_path)  # fmt: skip
            row = next((line for line in status.splitlines() if "EURUSD" in line), "")
            if row.count(f"{moved:g}") == 2 and row.count(f"{tp:g}") == 2:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        for proc in (provider, follower):
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        # The market gaps through the stop-loss while nothing of tradewire trades.
        gap = round(moved - 0.0012, 5)
        run("paper", "quote", "--broker", "paper:fol.db", "EURUSD", "--bid", str(gap),
            "--ask", str(round(gap + 0.0001, 5)), cwd=tmp_path)  # fmt: skip
        assert paper_json("fol.db", tmp_path)["positions"] == []
        with sqlite3.connect(tmp_path / "fol.db") as conn:
            closing = conn.execute(
                "SELECT side, volume, price, comment FROM orders ORDER BY id DESC LIMIT 1"
            ).fetchone()
        assert closing[:3] == ("sell", 0.3, gap) and closing[3].startswith("[sl ")
    finally:
        for proc in (provider, follower):
            if proc.poll() is None:
                proc.kill()
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=10) == 0


def test_a_pending_order_is_copied_once_across_a_kill_9_of_the_follower(tmp_path: Path) -> None:
    for user, role in (("prov", "provider"), ("fol", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha",
            cwd=tmp_path, stdin=PASSWORD + "\n")  # fmt: skip
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    quote = run("paper", "quote", "--broker", "paper:prov.db?mode=hedging", "EURUSD",
                cwd=tmp_path)  # fmt: skip
    ask = float(re.search(r"ask ([\d.]+)", quote).group(1))  # type: ignore[union-attr]
    price = round(ask - 0.0040, 5)
    run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "buy", "0.2", "--type", "limit",
        "--price", str(price), "--sl", str(round(price - 0.0030, 5)), cwd=tmp_path)  # fmt: skip
    provider = spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
                     "--broker", "paper:prov.db", cwd=tmp_path)  # fmt: skip
    follow = ("follow", "--hub", address, "--user", "fol", "--channel", "alpha",
              "--broker", "paper:fol.db?mode=hedging")  # fmt: skip
    follower = spawn(*follow, cwd=tmp_path)

    def orders() -> list[dict]:  # type: ignore[type-arg]
        if not (tmp_path / "fol.db").exists():
            return []
        out = run("paper", "orders", "--broker", "paper:fol.db", "--json", cwd=tmp_path)
        return json.loads(out)["orders"]  # type: ignore[no-any-return]

    try:
        deadline = time.monotonic() + 20
        while not orders():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        follower.send_signal(signal.SIGKILL)  # right after placing, before its next round
        follower.wait(timeout=10)
        follower = spawn(*follow, cwd=tmp_path)
        time.sleep(2.5)
        (order,) = orders()
        assert (order["type"], order["volume"], order["price"]) == ("buy_limit", 0.2, price)
        assert order["sl"] == round(price - 0.0030, 5) and order["tp"] == 0.0
        with sqlite3.connect(tmp_path / "fol.db") as conn:
            placed = conn.execute("SELECT COUNT(*) FROM pending_log WHERE action = 'place'")
            assert placed.fetchone()[0] == 1
        deadline = time.monotonic() + 10
        while True:  # --status: the provider's order against the follower's copy
            status = run("follow", "--user", "fol", "--channel", "alpha", "--status",
                         cwd=tmp_path)  # fmt: skip
            rows = [line for line in status.splitlines() if "buy_limit" in line]
            if rows and rows[0].count(f"{price:g}") == 2 and order["id"] in rows[0]:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
    finally:
        for proc in (follower, provider, hub):
            proc.send_signal(signal.SIGTERM)
        for proc in (follower, provider, hub):
            assert proc.wait(timeout=10) == 0
