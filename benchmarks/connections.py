"""Connections: hub RSS with 10,000 idle authenticated subscribers, and a login storm of 1,000
clients at the default argon2id cost (logins/s and event-loop lag, from logins.py).

    .venv/bin/python benchmarks/connections.py --idle 10000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import raise_fd_limit, rss_kib, stop, write_result
from peers import start


def idle_worker(port: int, count: int, ready: Any, done: Any) -> None:
    raise_fd_limit()
    from peers import _hello

    held = []
    for at in range(0, count, 200):
        batch = [socket.create_connection(("127.0.0.1", port)) for _ in range(min(200, count - at))]
        for sock in batch:
            sock.sendall(_hello("follower") + b'{"t":"sub","id":1,"ch":"bench"}\n')
        for sock in batch:
            seen = b""
            while b'"ack"' not in seen:
                seen += sock.recv(65536)
        held += batch
    ready.put(len(held))
    done.wait()


def idle_subscribers(count: int, workers: int = 2) -> dict[str, Any]:
    peer = start("tradewire", count)
    try:
        base = rss_kib(peer.proc.pid)
        ctx = mp.get_context("fork")
        ready, done = ctx.Queue(), ctx.Event()
        procs = [
            ctx.Process(target=idle_worker, args=(peer.port, count // workers, ready, done))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        held = sum(ready.get(timeout=600) for _ in procs)
        rss = rss_kib(peer.proc.pid)
        done.set()
        for proc in procs:
            proc.join()
    finally:
        stop(peer.proc)
    return {
        "subscribers": held,
        "rss_mib": rss / 1024,
        "base_rss_mib": base / 1024,
        "kib_per_subscriber": (rss - base) / held,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--logins", type=int, default=1000)
    args = parser.parse_args()
    raise_fd_limit()
    idle = idle_subscribers(args.idle)
    print(
        f"{idle['subscribers']:,} idle authenticated subscribers: hub RSS "
        f"{idle['rss_mib']:.1f} MiB ({idle['base_rss_mib']:.1f} MiB before, "
        f"{idle['kib_per_subscriber']:.1f} KiB each)",
        flush=True,
    )
    storm = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parent / "logins.py"),
            "--clients",
            str(args.logins),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(storm.stdout.strip().splitlines()[0])
    print(storm.stdout.strip().splitlines()[1])
    import json

    result = {"idle": idle, "login_storm": json.loads(storm.stdout.strip().splitlines()[-1])}
    print(f"wrote {write_result('connections', result)}")


if __name__ == "__main__":
    main()
