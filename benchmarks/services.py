"""The article-idea services under load: topic fan-out and tasks/s through the job service.

Topic fan-out: a hub process, N subscribers (one process of raw sockets, here) following
``bench.*``; a provider publishes values one at a time and waits until every subscriber has the
value (closed loop): per value, publish -> last delivery.

Jobs: a hub process and W ``tradewire worker`` processes; one job of T tasks of a trivial
function (``tradewire.jobs.bench:echo``), from submit to the last result stored.

    .venv/bin/python benchmarks/services.py --subscribers 100 1000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import cpu_seconds, free_port, percentile, raise_fd_limit, stop, wait_port, write_result

BIN = Path(sys.executable).parent
PASSWORD = "bench-password"


def start_hub(
    data: Path, users: list[tuple[str, str, list[str]]], more: str = ""
) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    env = {**os.environ, "TRADEWIRE_PASSWORD": PASSWORD, "TRADEWIRE_DATA": str(data / "hub")}
    port = free_port()
    (data / "hub.toml").write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\nmax_connections_per_address=100000\n'
        "[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n"
        "[ban]\nmax_failures=1000000\n[topics]\nrate_per_s=100000\nburst=100000\n"
        "[jobs]\nrate_per_s=100000\nburst=100000\n" + more
    )
    for user, role, grants in users:
        flags = [arg for grant in grants for arg in ("--channel", grant)]
        subprocess.run(
            [str(BIN / "tradewire"), "user", "add", user, "--role", role, *flags,
             "--config", str(data / "hub.toml")],
            input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
        )  # fmt: skip
    serve = [str(BIN / "tradewire"), "--log-level", "warning", "serve"]
    hub = subprocess.Popen(
        [*serve, "--config", str(data / "hub.toml")], env=env, stdout=subprocess.DEVNULL
    )
    wait_port(port)
    return hub, port, env


async def login(port: int, user: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    hello = {"t": "hello", "v": 1, "user": user, "password": PASSWORD}
    writer.write(json.dumps(hello).encode() + b"\n")
    line = await reader.readline()
    assert b'"welcome"' in line, line
    return reader, writer


async def fanout(port: int, subscribers: int, values: int) -> dict[str, Any]:
    clients = [await login(port, "sub") for _ in range(subscribers)]
    for _, writer in clients:
        writer.write(b'{"t":"sub","topics":["bench.*"],"id":1}\n')
    for reader, _ in clients:
        assert b'"ack"' in await reader.readline()
    publisher_reader, publisher = await login(port, "pub")
    latencies: list[float] = []
    for n in range(values):
        started = time.perf_counter()
        publisher.write(
            json.dumps({"t": "topic_pub", "topic": "bench.v", "value": n, "id": n}).encode() + b"\n"
        )
        await asyncio.gather(*(reader.readline() for reader, _ in clients))
        latencies.append((time.perf_counter() - started) * 1000)
        await publisher_reader.readline()  # the ack
    for _, writer in clients:
        writer.close()
    publisher.close()
    return {
        "subscribers": subscribers,
        "values": values,
        "p50_ms": round(percentile(latencies, 0.5), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "deliveries_per_s": round(subscribers * values / (sum(latencies) / 1000)),
    }


def run_fanout(subscribers: int, values: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="tw-topics-"))
    users = [("pub", "provider", ["topic:bench.*"]), ("sub", "follower", ["topic:bench.*"])]
    hub, port, _ = start_hub(data, users)
    try:
        row = asyncio.run(fanout(port, subscribers, values))
        row["hub_cpu_s"] = round(cpu_seconds(hub.pid), 2)
        return row
    finally:
        stop(hub)


async def one_job(port: int, tasks: int) -> float:
    from tradewire.clients import HubClient
    from tradewire.clients.jobs import JobClient

    client = HubClient("127.0.0.1", port, "bob", PASSWORD)
    await client.start()
    jobs = JobClient(client)
    started = time.perf_counter()
    job = await jobs.submit("tradewire.jobs.bench:echo", list(range(tasks)))
    info = await jobs.wait(job, every_s=0.05)
    elapsed = time.perf_counter() - started
    assert info.done == tasks, info
    await client.close()
    return elapsed


def run_jobs(workers: int, tasks: int, queue: str = "jobs.db") -> dict[str, Any]:
    """``queue``: ``jobs.db`` (one hub), or ``JetStream`` ([nats], a nats-server started here:
    the queue every hub shares)."""
    data = Path(tempfile.mkdtemp(prefix="tw-jobs-"))
    users = [("bob", "follower", [])] + [(f"w{i}", "worker", []) for i in range(workers)]
    nats = None
    if queue == "JetStream":
        from tradewire.bus.nats_server import NatsServer

        nats = NatsServer(data / "nats")
        nats.start()
    more = f'[nats]\nservers=["{nats.url}"]\n' if nats else ""
    hub, port, env = start_hub(data, users, more)
    procs = [
        subprocess.Popen(
            [
                str(BIN / "tradewire"),
                "--log-level",
                "warning",
                "worker",
                "--trust",
                "tradewire.jobs",
                "--hub",
                f"127.0.0.1:{port}",
                "--user",
                f"w{i}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    try:
        time.sleep(1.5)  # every worker logged in and waiting
        elapsed = asyncio.run(one_job(port, tasks))
        return {
            "queue": queue,
            "workers": workers,
            "tasks": tasks,
            "seconds": round(elapsed, 2),
            "tasks_per_s": round(tasks / elapsed),
            "hub_cpu_ms_per_task": round(cpu_seconds(hub.pid) * 1000 / tasks, 3),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        stop(hub)
        if nats is not None:
            nats.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--values", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--tasks", type=int, default=3000)
    args = parser.parse_args()
    raise_fd_limit()
    topics = []
    for count in args.subscribers:
        row = run_fanout(count, args.values)
        topics.append(row)
        print(
            f"topics: {count:5} subscribers  p50 {row['p50_ms']:.2f} ms  "
            f"p99 {row['p99_ms']:.2f} ms  {row['deliveries_per_s']:,} deliveries/s",
            flush=True,
        )
    jobs = []
    for queue in ("jobs.db", "JetStream"):
        for count in args.workers:
            row = run_jobs(count, args.tasks, queue)
            jobs.append(row)
            print(f"jobs ({queue}): {count} workers  {row['tasks_per_s']:,} tasks/s  "
                  f"({row['tasks']} tasks in {row['seconds']} s)", flush=True)  # fmt: skip
    print(f"wrote {write_result('services', {'args': vars(args), 'topics': topics, 'jobs': jobs})}")


if __name__ == "__main__":
    main()
