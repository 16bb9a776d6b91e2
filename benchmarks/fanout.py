"""Fan-out: 1 provider, N subscribers, the same 10-position state, across tradewire, nats-server,
Redis pub/sub and a plain asyncio server — publish -> last subscriber received.

Subscribers are the C epoll program ``subscriber.c`` in worker processes (it counts state ends
without parsing), so the load generator costs little per delivery; without a C compiler, Python
worker processes with raw non-blocking sockets stand in (slower: they set the pace from about
1,000 subscribers). The provider publishes the next
state only when every subscriber has the previous one (closed loop), so states never queue in
the load generator and each latency is one state's. Latencies use CLOCK_MONOTONIC, shared by all
processes. Server CPU comes from /proc, as does the workers' CPU (``gen CPU``: whether the load
generator was saturated).

    .venv/bin/python benchmarks/fanout.py --subscribers 100 1000 --systems tradewire nats

``tw-nats1``, ``tw-nats2``, ``tw-nats4``: tradewire over NATS JetStream with 1, 2 and 4 hub
processes on one port (docs/scaling.md); on a 2-core machine more processes cannot show scaling.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import select
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import build_c, cpu_seconds, percentile, raise_fd_limit, rss_kib, stop, write_result
from peers import Peer, start

END = b"]}\n"
SYMBOLS = [
    "EURUSD",
    "GBPUSD",
    "USDJPY",
    "XAUUSD",
    "US30",
    "AUDUSD",
    "USDCAD",
    "NZDUSD",
    "EURJPY",
    "GBPJPY",
]


def server_cpu(peer: Peer) -> float:
    return sum(cpu_seconds(pid) for pid in peer.pids())


def server_rss(peer: Peer) -> int:
    return sum(rss_kib(pid) for pid in peer.pids())


def stop_peer(peer: Peer) -> None:
    stop(peer.proc)
    for helper in peer.helpers:
        stop(helper)


def state_line(n: int) -> bytes:
    """A realistic provider state (10 positions, ~1.4 KB), as the hub would forward it."""
    frame: dict[str, Any] = {
        "t": "state",
        "id": n,
        "ch": "bench",
        "ts": time.time_ns() // 1_000_000,
        "account": {
            "login": "1",
            "currency": "USD",
            "balance": 1e4,
            "equity": 1e4,
            "leverage": 100,
            "mode": "hedging",
        },
        "positions": [
            {
                "id": str(9000 + i),
                "symbol": s,
                "side": "buy" if i % 2 else "sell",
                "volume": round(0.1 + 0.01 * (n % 50), 2),
                "price": 1.08345 + i,
                "sl": 0.0,
                "tp": 0.0,
                "time": 1_700_000_000_000 + i,
                "magic": 7,
                "comment": "copy",
            }
            for i, s in enumerate(SYMBOLS)
        ],
    }
    return json.dumps(frame, separators=(",", ":")).encode() + b"\n"


def subscriber_worker(peer: Peer, count: int, progress: Any, ready: Any, out: Any) -> None:
    raise_fd_limit()
    sel = selectors.DefaultSelector()
    request, marker = peer.subscribe_request(), peer.subscribed_marker()
    tails: dict[socket.socket, bytes] = {}
    for start_at in range(0, count, 200):
        # From many loopback addresses: `serve --workers N` steers connections to workers by
        # source address (hub/affinity.py), as real subscribers on many machines spread.
        batch = [
            socket.create_connection(
                ("127.0.0.1", peer.port),
                source_address=(f"127.1.{n // 250 % 250}.{n % 250 + 1}", 0),
            )
            for n in range(start_at, start_at + min(200, count - start_at))
        ]
        for sock in batch:
            sock.sendall(request)
        for sock in batch:
            seen = b""
            while marker not in seen:
                seen += sock.recv(65536)
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
            tails[sock] = b""
    ready.put(count)
    # Every subscriber gets every state, in order (the provider waits for all before the next),
    # so the n-th END on a socket is state n: counting is all the parsing needed (bytes.count
    # runs in C), which keeps the generator's cost per delivery small. A state line ends with
    # its positions array, "]}\n"; nothing else a server sends does (pings, acks, PONG).
    got = dict.fromkeys(tails, 0)
    received: dict[int, int] = {}  # state -> latest receive time in this worker
    counts: dict[int, int] = {}
    while True:
        events = sel.select(timeout=5)
        if not events and received:
            break  # the run is over (or stuck): report what arrived
        for key, _ in events:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            now = time.monotonic_ns()
            if not data:
                sel.unregister(sock)
                continue
            ends = (tails[sock] + data[:2]).count(END) + data.count(END)
            tails[sock] = data[-2:]
            for _ in range(ends):
                got[sock] += 1
                seq = got[sock]
                received[seq] = max(received.get(seq, 0), now)
                counts[seq] = counts.get(seq, 0) + 1
                if counts[seq] == count:
                    with progress.get_lock():
                        progress.value += count
    out.put((received, counts))


def strace_counts(path: Path) -> dict[str, int]:
    """System call -> calls, from an ``strace -c`` summary."""
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls = fields[3]
            if calls.isdigit():
                counts[fields[-1]] = int(calls)
    return counts


def run_one_c(
    peer: Peer, subscribers: int, states: int, workers: int, trace: Path | None = None
) -> dict[str, Any]:
    """The same measurement with C subscriber processes; they report progress on stdout.
    ``trace``: count the server's system calls meanwhile into this file (``strace -c``; the
    timings are then strace's, not the server's)."""
    shares = [subscribers // workers + (i < subscribers % workers) for i in range(workers)]
    generator = build_c("subscriber")
    assert generator is not None
    procs = [
        subprocess.Popen(
            [
                str(generator),
                str(peer.port),
                str(n),
                peer.subscribe_request().hex(),
                peer.subscribed_marker().decode(),
                str(states),
                *([b'{"t":"pong"}\n'.hex()] if peer.kind == "tradewire" else []),
            ],
            stdout=subprocess.PIPE,
            bufsize=0,
        )  # unbuffered: select works
        for n in shares
        if n
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    publisher = peer.open_publisher()
    time.sleep(0.5)
    tracer = None
    if trace is not None:
        pids = [arg for pid in peer.pids() for arg in ("-p", str(pid))]
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(trace), *pids],
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.0)  # attached to every thread
    cpu_before = server_cpu(peer)
    workers_before = sum(cpu_seconds(p.pid) for p in procs)
    sent: dict[int, int] = {}
    started = time.monotonic()
    timeouts = 0
    for n in range(1, states + 1):
        sent[n] = time.monotonic_ns()
        peer.publish(publisher, state_line(n))
        for proc in procs:  # each worker prints n once all its sockets have state n
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            if not ready or int(proc.stdout.readline() or 0) != n:
                timeouts += 1
    wall = time.monotonic() - started
    cpu = server_cpu(peer) - cpu_before
    worker_cpu = sum(cpu_seconds(p.pid) for p in procs) - workers_before
    rss = server_rss(peer)
    if tracer is not None:
        tracer.send_signal(2)
        tracer.wait(timeout=60)
    publisher.close()
    merged: dict[int, int] = {}
    for proc in procs:
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.wait(timeout=60)
        for line in out.splitlines():
            if line.startswith("t "):
                _, seq, at = line.split()
                merged[int(seq)] = max(merged.get(int(seq), 0), int(at))
    return {
        "sent": sent,
        "merged": merged,
        "timeouts": timeouts,
        "wall": wall,
        "cpu": cpu,
        "worker_cpu": worker_cpu,
        "rss": rss,
        "workers": len(procs),
        "delivered": subscribers * len(merged),
    }


def run_one(system: str, subscribers: int, states: int, workers: int) -> dict[str, Any]:
    peer = start(system, subscribers)
    if build_c("subscriber") is not None:
        try:
            base_rss = server_rss(peer)
            m = run_one_c(peer, subscribers, states, workers)
        finally:
            stop_peer(peer)
        latencies = [(m["merged"][n] - m["sent"][n]) / 1e6 for n in m["sent"] if n in m["merged"]]
        return {
            "system": system,
            "subscribers": subscribers,
            "states": states,
            "generator": "c",
            "delivered": m["delivered"],
            "expected": states * subscribers,
            "timeouts": m["timeouts"],
            "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies) if latencies else float("nan"),
            "cpu_s_per_1000": m["cpu"] / max(1, m["delivered"]) * 1000,
            "rss_mib": m["rss"] / 1024,
            "rss_kib_per_subscriber": (m["rss"] - base_rss) / subscribers,
            "generator_cpu_share": m["worker_cpu"] / (m["wall"] * m["workers"]),
        }
    try:
        base_rss = server_rss(peer)
        ctx = mp.get_context("fork")
        progress, ready, out = ctx.Value("q", 0), ctx.Queue(), ctx.Queue()
        shares = [subscribers // workers + (i < subscribers % workers) for i in range(workers)]
        procs = [
            ctx.Process(target=subscriber_worker, args=(peer, n, progress, ready, out))
            for n in shares
            if n
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=600)
        publisher = peer.open_publisher()
        time.sleep(0.5)
        cpu_before = server_cpu(peer)
        workers_before = sum(cpu_seconds(p.pid) for p in procs if p.pid)
        sent: dict[int, int] = {}
        started = time.monotonic()
        timeouts = 0
        for n in range(1, states + 1):
            line = state_line(n)
            sent[n] = time.monotonic_ns()
            peer.publish(publisher, line)
            deadline = time.monotonic() + 10
            while progress.value < n * subscribers:
                if time.monotonic() > deadline:
                    timeouts += 1
                    break
                time.sleep(0.0002)
        wall = time.monotonic() - started
        cpu = server_cpu(peer) - cpu_before
        worker_cpu = sum(cpu_seconds(p.pid) for p in procs if p.pid) - workers_before
        rss = server_rss(peer)
        merged: dict[int, int] = {}
        delivered = 0
        for _ in procs:
            received, counts = out.get(timeout=120)
            delivered += sum(counts.values())
            for seq, at in received.items():
                merged[seq] = max(merged.get(seq, 0), at)
        for proc in procs:
            proc.join()
        publisher.close()
    finally:
        stop_peer(peer)
    latencies = [(merged[n] - sent[n]) / 1e6 for n in sent if n in merged]
    return {
        "system": system,
        "subscribers": subscribers,
        "states": states,
        "delivered": delivered,
        "expected": states * subscribers,
        "timeouts": timeouts,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "cpu_s_per_1000": cpu / max(1, delivered) * 1000,
        "rss_mib": rss / 1024,
        "rss_kib_per_subscriber": (rss - base_rss) / subscribers,
        "generator_cpu_share": worker_cpu / (wall * len(procs)),
        "generator": "python",
    }


def syscalls_per_delivery(system: str, subscribers: int, states: int) -> dict[str, Any]:
    """The server's system calls per delivered message while it fans ``states`` out to
    ``subscribers`` (strace -c), in total and for the calls that make up most of them."""
    peer = start(system, subscribers)
    trace = Path(tempfile.mkdtemp(prefix="tw-strace-")) / "summary.txt"
    try:
        m = run_one_c(peer, subscribers, states, 2, trace)
    finally:
        stop_peer(peer)
    counts = strace_counts(trace)
    delivered = max(1, m["delivered"])
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
    return {
        "system": system,
        "subscribers": subscribers,
        "states": states,
        "delivered": m["delivered"],
        "per_delivery": round(sum(counts.values()) / delivered, 3),
        "top": {name: round(calls / delivered, 4) for name, calls in top},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000, 5000, 10000])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=[
            "tradewire",
            "tw-threads",
            "tw-nats1",
            "tw-nats2",
            "tw-nats4",
            "nats",
            "redis",
            "asyncio",
        ],
        help="tw-natsN: tradewire over NATS with N hub processes (see peers.py)",
    )
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--syscalls",
        type=int,
        nargs="*",
        default=[1000, 5000],
        help="Subscriber counts at which tradewire's and Redis's system calls per delivery "
        "are counted (strace -c, 50 states, a pass of its own); none: skip.",
    )
    args = parser.parse_args()
    raise_fd_limit()
    syscalls = []
    if args.syscalls and shutil.which("strace") is None:
        print("strace not found (apt-get install strace): no system call counts")
    elif args.syscalls and build_c("subscriber") is not None:
        for subscribers in args.syscalls:
            for system in ("tradewire", "redis"):
                counted = syscalls_per_delivery(system, subscribers, 50)
                syscalls.append(counted)
                top = ", ".join(f"{k} {v:g}" for k, v in counted["top"].items())
                print(f"{system:10} {subscribers:6} system calls per delivery "
                      f"{counted['per_delivery']:.3f} ({top})", flush=True)  # fmt: skip
    rows = []
    print(
        f"{'system':10} {'subs':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'CPU s/1k':>9} {'RSS MiB':>8} {'KiB/sub':>8} {'gen CPU':>8} delivered"
    )
    for subscribers in args.subscribers:
        for system in args.systems:
            row = run_one(system, subscribers, args.states, args.workers)
            rows.append(row)
            print(
                f"{system:10} {subscribers:6} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
                f"{row['max_ms']:8.2f} {row['cpu_s_per_1000']:9.4f} {row['rss_mib']:8.1f} "
                f"{row['rss_kib_per_subscriber']:8.1f} {row['generator_cpu_share']:8.0%} "
                f"{row['delivered']}/{row['expected']}",
                flush=True,
            )
    path = write_result("fanout", {"args": vars(args), "rows": rows, "syscalls": syscalls})
    print(f"wrote {path}")
    print(json.dumps({"done": len(rows)}))


if __name__ == "__main__":
    main()
