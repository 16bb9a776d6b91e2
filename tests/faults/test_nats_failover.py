"""Three hubs (processes) share one channel through a 3-node NATS cluster (every message on
three nodes). The provider publishes on hub A; follower 1 is on hub B (``--hub B,C``), follower
2 on hub C. ``kill -9`` of hub B while copying: follower 1 moves to hub C by itself and
converges; then ``kill -9`` of a NATS node: copying goes on. Every copied position was opened
exactly once on each follower's account."""

from __future__ import annotations

import collections
import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.faults.test_hub_crash_copying import serve, wait_in_sync
from tests.system.test_copy_cli import PASSWORD, run, spawn
from tradewire.bus.nats_server import NatsServer


def nats_hub(
    tmp_path: Path, name: str, nats: list[NatsServer]
) -> tuple[subprocess.Popen[str], str]:
    """A hub with its own data directory and users, sharing the ``nats`` cluster."""
    home = tmp_path / name
    home.mkdir()
    urls = ", ".join(f'"{n.url}"' for n in nats)
    (home / "hub.toml").write_text(f"[nats]\nservers = [{urls}]\nreplicas = 3\n")
    for user, role in (("prov", "provider"), ("fol1", "follower"), ("fol2", "follower")):
        run("user", "add", user, "--role", role, "--channel", "alpha", cwd=home, stdin=PASSWORD)
    hub, port = serve(home, config="hub.toml")
    return hub, f"127.0.0.1:{port}"


def opened_once(db: Path) -> collections.Counter[str]:
    with sqlite3.connect(db) as conn:
        return collections.Counter(
            c.split(":")[1]
            for (c,) in conn.execute(
                "SELECT comment FROM orders WHERE status='filled' AND position_id IS NULL"
            )
        )


def test_followers_of_a_killed_hub_move_to_another_and_converge(
    tmp_path: Path, nats_cluster: list[NatsServer]
) -> None:
    (a, at_a), (b, at_b), (c, at_c) = (nats_hub(tmp_path, n, nats_cluster) for n in "abc")
    provider = spawn(
        "provide", "--hub", at_a, "--user", "prov", "--channel", "alpha",
        "--broker", "paper:prov.db?mode=hedging", "--refresh-s", "1", cwd=tmp_path,
    )  # fmt: skip
    followers = [
        spawn(
            "follow", "--hub", f"{at_b},{at_c}", "--user", "fol1", "--channel", "alpha",
            "--broker", "paper:fol1.db?mode=hedging", cwd=tmp_path,
        ),
        spawn(
            "follow", "--hub", f"{at_c},{at_b}", "--user", "fol2", "--channel", "alpha",
            "--broker", "paper:fol2.db?mode=hedging", cwd=tmp_path,
        ),
    ]  # fmt: skip
    try:
        for symbol, side, volume in [("EURUSD", "buy", "0.3"), ("XAUUSD", "sell", "0.2")]:
            run("paper", "order", "--broker", "paper:prov.db", symbol, side, volume, cwd=tmp_path)
        wait_in_sync(tmp_path, "fol1.db", "")
        wait_in_sync(tmp_path, "fol2.db", "")
        run("paper", "order", "--broker", "paper:prov.db", "US30", "buy", "1.5", cwd=tmp_path)
        b.send_signal(signal.SIGKILL)  # fol1 may or may not have copied US30 through it
        b.wait(timeout=10)
        run("paper", "order", "--broker", "paper:prov.db", "GBPUSD", "sell", "0.4", cwd=tmp_path)
        wait_in_sync(tmp_path, "fol1.db", "")  # only through hub C: B is gone for good
        wait_in_sync(tmp_path, "fol2.db", "")
        nats_cluster[0].kill()  # the hubs on it move to another node; nothing acked is lost
        run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "sell", "0.1", cwd=tmp_path)
        wait_in_sync(tmp_path, "fol1.db", "", within=60)
        wait_in_sync(tmp_path, "fol2.db", "", within=60)
        for db in ("fol1.db", "fol2.db"):
            opens = opened_once(tmp_path / db)
            assert len(opens) == 5 and max(opens.values()) == 1, (db, opens)
    finally:
        procs = dict(zip(("fol1", "fol2", "provider", "hub a", "hub c"),
                         (*followers, provider, a, c), strict=True))  # fmt: skip
        alive = {name: proc for name, proc in procs.items() if proc.poll() is None}
        for proc in alive.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in alive.items():
            out, _ = proc.communicate(timeout=15)
            print(f"---- {name} ----\n" + "\n".join(out.splitlines()[-40:]))  # shown on failure
            assert proc.returncode == 0, name
