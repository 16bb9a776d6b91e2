"""Fan-out latency of a running hub: provider publish -> last subscriber received.

Starts `tradewire serve` on a free port with a throwaway data directory, connects N subscribers
as raw non-blocking sockets spread over worker processes (cheap per connection, so the load
generator is not what gets measured), publishes S states of a realistic 10-position state one at
a time, and reports p50/p99/max of (last subscriber's receive time - publish time), using
CLOCK_MONOTONIC, which all processes share. Usage:

    .venv/bin/python benchmarks/fanout.py --subscribers 1000 --states 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bench-password"
TRADEWIRE = str(Path(sys.executable).parent / "tradewire")


def state(n: int) -> bytes:
    positions = [{"id": str(9000 + i), "symbol": sym, "side": "buy" if i % 2 else "sell",
                  "volume": round(0.1 + 0.01 * (n % 50), 2), "price": 1.08345 + i,
                  "sl": 0.0, "tp": 0.0, "time": 1_700_000_000_000 + i, "magic": 7,
                  "comment": "copy"}
                 for i, sym in enumerate(["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30",
                                          "AUDUSD", "USDCAD", "NZDUSD", "EURJPY", "GBPJPY"])]
    frame = {"t": "state", "id": n, "ch": "bench", "ts": time.time_ns() // 1_000_000,
             "account": {"login": "1", "currency": "USD", "balance": 1e4, "equity": 1e4,
                         "leverage": 100, "mode": "hedging"}, "positions": positions}
    return json.dumps(frame).encode() + b"\n"


def hello(user: str) -> bytes:
    return json.dumps({"t": "hello", "v": 1, "user": user, "password": PASSWORD}).encode() + b"\n"


def subscriber_worker(port: int, count: int, states: int, ready: mp.Queue, out: mp.Queue) -> None:
    sel = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}
    for start in range(0, count, 100):  # in batches, below the hub's pending-login cap
        batch = []
        for _ in range(min(100, count - start)):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(hello("follower") + b'{"t":"sub","id":1,"ch":"bench"}\n')
            batch.append(sock)
        for sock in batch:
            reader = sock.makefile("rb")
            assert b"welcome" in reader.readline()
            assert b"ack" in reader.readline()
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
            buffers[sock] = b""
    ready.put(count)
    last_seen: dict[int, int] = {}  # seq -> latest receive time over this worker's sockets
    done = 0
    pattern = re.compile(rb'"seq":(\d+)')
    while done < count:
        for key, _ in sel.select(timeout=30):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(1 << 20)
            now = time.monotonic_ns()
            if not data:
                raise SystemExit("hub closed a subscriber")
            buf = buffers[sock] + data
            *lines, buffers[sock] = buf.split(b"\n")
            for line in lines:
                match = pattern.search(line)
                if match:
                    seq = int(match.group(1))
                    last_seen[seq] = max(last_seen.get(seq, 0), now)
                    if seq == states:
                        done += 1
    out.put(last_seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.01,
                        help="seconds between publications (after each ack)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    env = {**os.environ, "TRADEWIRE_DATA": str(data)}
    for user, role in (("provider", "provider"), ("follower", "follower")):
        subprocess.run([TRADEWIRE, "user", "add", user, "--role", role, "--channel", "bench"],
                       input=PASSWORD + "\n", text=True, env=env, check=True,
                       capture_output=True)
    config = data / "hub.toml"
    config.write_text('[hub]\nhost="127.0.0.1"\nport=0\nmax_connections_per_address=20000\n'
                      '[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n')
    hub = subprocess.Popen([TRADEWIRE, "--log-level", "warning", "serve", "--config",
                            str(config)], env=env, stdout=subprocess.PIPE, text=True)
    assert hub.stdout is not None
    port = int(re.search(r":(\d+)$", hub.stdout.readline().strip()).group(1))  # type: ignore[union-attr]
    ready: mp.Queue = mp.Queue()
    out: mp.Queue = mp.Queue()
    share = [args.subscribers // args.workers + (i < args.subscribers % args.workers)
             for i in range(args.workers)]
    workers = [mp.Process(target=subscriber_worker, args=(port, n, args.states, ready, out))
               for n in share if n]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=300)
    provider = socket.create_connection(("127.0.0.1", port))
    provider.sendall(hello("provider"))
    reader = provider.makefile("rb")
    reader.readline()
    cpu_before = _cpu_seconds(hub.pid)
    sent: dict[int, int] = {}
    for n in range(1, args.states + 1):
        payload = state(n)
        sent[n] = time.monotonic_ns()
        provider.sendall(payload)
        reader.readline()  # the ack
        time.sleep(args.interval)
    cpu = _cpu_seconds(hub.pid) - cpu_before
    merged: dict[int, int] = {}
    for _ in workers:
        for seq, t in out.get(timeout=120).items():
            merged[seq] = max(merged.get(seq, 0), t)
    for w in workers:
        w.join()
    rss_kib = _rss_kib(hub.pid)
    hub.terminate()
    hub.wait()
    lat = sorted((merged[n] - sent[n]) / 1e6 for n in sent if n in merged)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(f"subscribers={args.subscribers} states={args.states} delivered_states={len(lat)}")
    print(f"publish->last subscriber ms: p50={p(0.5):.2f} p99={p(0.99):.2f} max={lat[-1]:.2f} "
          f"mean={statistics.mean(lat):.2f}")
    print(f"hub CPU s per 1000 deliveries: {cpu / (args.states * args.subscribers) * 1000:.4f}")
    print(f"hub RSS: {rss_kib / 1024:.1f} MiB ({rss_kib / args.subscribers:.1f} KiB/subscriber)")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
