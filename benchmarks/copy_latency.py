"""Copy latency: a provider's change -> each follower's fill, with 1, 10 and 100 followers.

The hub and every follower run as their own processes (``tradewire serve``, ``tradewire
follow`` on paper accounts, as each trader's machine would); the provider runs here, trading a
paper account and publishing through the hub at once. Each follower journals, per fill, the
time from the provider's state (stamped when the provider published it, right after its own
fill) to the follower's fill. 40 changes, 400 ms apart (so each is measured on its own).

    .venv/bin/python benchmarks/copy_latency.py --followers 1 10 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import cpu_seconds, free_port, percentile, raise_fd_limit, stop, wait_port, write_result

BIN = Path(sys.executable).parent
PASSWORD = "bench-password"


def run_one(followers: int, changes: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="tw-copy-"))
    env = {**os.environ, "TRADEWIRE_PASSWORD": PASSWORD, "TRADEWIRE_DATA": str(data / "hub")}
    port = free_port()
    (data / "hub.toml").write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\n'
        "[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n"
    )
    users = [("prov", "provider")] + [(f"f{i}", "follower") for i in range(followers)]
    for user, role in users:
        subprocess.run(
            [
                str(BIN / "tradewire"),
                "user",
                "add",
                user,
                "--role",
                role,
                "--channel",
                "alpha",
                "--config",
                str(data / "hub.toml"),
            ],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
    hub = subprocess.Popen(
        [
            str(BIN / "tradewire"),
            "--log-level",
            "warning",
            "serve",
            "--config",
            str(data / "hub.toml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    procs = [
        subprocess.Popen(
            [
                str(BIN / "tradewire"),
                "--log-level",
                "warning",
                "follow",
                "--hub",
                f"127.0.0.1:{port}",
                "--user",
                f"f{i}",
                "--channel",
                "alpha",
                "--broker",
                f"paper:{data}/f{i}.db?mode=hedging",
                "--journal",
                str(data / f"f{i}.jsonl"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(followers)
    ]
    try:
        asyncio.run(provide(port, data, changes, followers))
        follower_cpu = sum(cpu_seconds(proc.pid) for proc in procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        stop(hub)
    latencies: list[float] = []
    for i in range(followers):
        journal = data / f"f{i}.jsonl"
        if journal.exists():
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("event") == "fill" and entry.get("latency_ms") is not None:
                    latencies.append(float(entry["latency_ms"]))
    return {
        "followers": followers,
        "fills": len(latencies),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "follower_cpu_ms_per_fill": follower_cpu * 1000 / max(1, len(latencies)),
    }


async def provide(port: int, data: Path, changes: int, followers: int) -> None:
    from tradewire.brokers.paper import PaperBroker, PaperSettings
    from tradewire.clients import HubClient
    from tradewire.clients.provider import Provider
    from tradewire.model import OrderRequest

    broker = await PaperBroker.open(data / "prov.db", PaperSettings(mode="hedging"))
    client = HubClient("127.0.0.1", port, "prov", PASSWORD)
    await client.start()
    provider = Provider(broker, client, "alpha", refresh_s=30)
    task = asyncio.create_task(provider.run())
    await asyncio.sleep(3 + followers * 0.15)  # every follower connected and subscribed
    rng = random.Random(5)
    symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30"]
    for _ in range(changes):
        positions = await broker.positions()
        if positions and rng.random() < 0.4:
            victim = rng.choice(positions)
            await broker.market_order(
                OrderRequest(
                    victim.symbol,
                    "sell" if victim.side == "buy" else "buy",
                    victim.volume,
                    position_id=victim.id,
                )
            )
        else:
            await broker.market_order(
                OrderRequest(rng.choice(symbols), rng.choice(["buy", "sell"]), 0.1)
            )
        await asyncio.sleep(0.4)
    await asyncio.sleep(2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.close()
    await broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--changes", type=int, default=40)
    args = parser.parse_args()
    raise_fd_limit()
    rows = []
    print(f"{'followers':>9} {'fills':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for count in args.followers:
        started = time.monotonic()
        row = run_one(count, args.changes)
        rows.append(row)
        print(
            f"{count:9} {row['fills']:6} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['max_ms']:7.1f}   ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    print(f"wrote {write_result('copy_latency', {'args': vars(args), 'rows': rows})}")


if __name__ == "__main__":
    main()
