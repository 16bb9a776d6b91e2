"""kill -9 of the hub during native tick ingest: every acknowledged tick is stored after a
restart, once, nothing is half-written; in SQLite (which passes PRAGMA integrity_check) and in
PostgreSQL (``[ticks] postgres``)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tradewire.store.ticks import SqliteTickStore

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
PASSWORD = "durability-password"
ROWS = 200


def start_hub(workdir: Path, port: int = 0) -> tuple[subprocess.Popen[str], int]:
    config = ["--config", "hub.toml"] if (workdir / "hub.toml").exists() else []
    proc = subprocess.Popen(
        [TRADEWIRE, "serve", "--host", "127.0.0.1", "--port", str(port), *config],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    match = re.search(r":(\d+)\s*$", proc.stdout.readline())
    assert match
    return proc, int(match.group(1))


def stored_times(workdir: Path, postgres: str) -> tuple[set[int], int]:
    """Every stored time_ms, and the row count."""
    if postgres:
        with psycopg.connect(postgres) as db:
            times = [t for (t,) in db.execute("SELECT time_ms FROM ticks")]
    else:
        store = SqliteTickStore(workdir / "tradewire-data", readonly=True)
        assert store.integrity() == "ok"
        times = [row[1] for row in store.all_rows()]
        store.close()
    return set(times), len(times)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_every_acknowledged_tick_survives_kill_9(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    postgres = request.getfixturevalue("postgres") if store == "postgres" else ""
    if postgres:
        (tmp_path / "hub.toml").write_text(f'[ticks]\npostgres = "{postgres}"\n')
    subprocess.run(
        [TRADEWIRE, "user", "add", "feeder", "--role", "provider"],
        cwd=tmp_path,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    hub, port = start_hub(tmp_path)
    acked: list[int] = []
    sock = socket.create_connection(("127.0.0.1", port))
    reader = sock.makefile("rb")
    sock.sendall(
        json.dumps({"t": "hello", "v": 1, "user": "feeder", "password": PASSWORD}).encode() + b"\n"
    )
    assert b"welcome" in reader.readline()

    def read_acks() -> None:
        try:
            for line in reader:
                frame = json.loads(line)
                if frame.get("t") == "ack":
                    acked.append(int(frame["re"]))
        except (OSError, ValueError):
            pass  # the hub was killed, or the socket closed under this reader

    threading.Thread(target=read_acks, daemon=True).start()
    base = 1_700_000_000_000
    sent = 0
    try:
        for batch in range(100_000):  # pipelined: many batches in flight when the kill lands
            rows = [["EURUSD", base + batch * ROWS + i, 1.1, 1.1001] for i in range(ROWS)]
            sock.sendall(json.dumps({"t": "ticks", "id": batch, "rows": rows}).encode() + b"\n")
            sent += 1
            if len(acked) >= 50:
                os.kill(hub.pid, signal.SIGKILL)
                break
        hub.wait(timeout=10)
    except OSError:
        pass  # the hub died under us: exactly the point
    finally:
        sock.close()
    assert acked, "nothing was acknowledged before the kill"
    time.sleep(0.2)
    restarted, _ = start_hub(tmp_path)
    try:
        times, count = stored_times(tmp_path, postgres)
        counts = (count, len(times))
        missing = [b for b in acked if not all(base + b * ROWS + i in times for i in range(ROWS))]
        assert missing == [], f"{len(missing)} acknowledged batches lost"
        assert counts[0] == counts[1]  # no row stored twice
        assert counts[0] % ROWS == 0  # whole batches only: nothing half-written
        assert len(acked) <= counts[0] // ROWS <= sent
        print(
            f"\nkill -9 during native ingest into {store}: {len(acked)} batches "
            f"({len(acked) * ROWS} rows) acknowledged, {counts[0]} rows stored after restart, "
            "acknowledged rows lost: 0"
        )
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=10) == 0
