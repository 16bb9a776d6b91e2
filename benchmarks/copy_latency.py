"""Copy latency: a provider's change -> each follower's fill, with 1, 10 and 100 followers,
on two paths: ``paper`` (the follower trades its paper account itself) and ``terminal`` (the
follower drives a simulated MetaTrader 5 bridge terminal through the hub's relay:
provider -> hub -> follower -> hub -> terminal -> fill).

The hub, every follower and every simulated terminal run as their own processes (``tradewire
serve``, ``tradewire follow``, ``tradewire terminal sim``, as each trader's machine would); the
provider runs here, trading a paper account and publishing through the hub at once. Each
follower journals, per fill, the time from the provider's state (stamped when the provider
published it, right after its own fill) to the follower's fill. 40 changes, 400 ms apart (so
each is measured on its own); opens carry a stop-loss and take-profit, and about one change in
five moves a position's stops instead, measured from the provider's state to the follower's
modification at its broker (``stops_p50_ms``). On the terminal path the cost of each hop is
measured too: a ping to the hub, and a relay request answered by a terminal (``account``).

    .venv/bin/python benchmarks/copy_latency.py --followers 1 10 --paths paper terminal
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH_PASSWORD,
    BIN,
    bench_hub,
    cpu_seconds,
    percentile,
    print_hops,
    raise_fd_limit,
    stop,
    write_result,
)

from tradewire.clients.hops import hop_table
from tradewire.exceptions import HubRefused

PASSWORD = BENCH_PASSWORD


def run_one(followers: int, changes: int, path: str = "paper") -> dict[str, Any]:
    users = [("prov", "provider", ["alpha"]), ("probe", "follower", ["relay:t0"])]
    users += [(f"f{i}", "follower", ["alpha", f"relay:t{i}"]) for i in range(followers)]
    users += [(f"t{i}", "follower", []) for i in range(followers)]
    hub, port, data, env = bench_hub("tw-copy-", users)
    terminals = [
        subprocess.Popen(
            [
                str(BIN / "tradewire"),
                "--log-level",
                "warning",
                "terminal",
                "sim",
                "--broker",
                f"paper:{data}/f{i}.db?mode=hedging",
                "--hub",
                f"127.0.0.1:{port}",
                "--user",
                f"t{i}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(followers if path == "terminal" else 0)
    ]
    brokers = [
        f"terminal:t{i}?hub=127.0.0.1:{port}&user=f{i}"
        if path == "terminal"
        else f"paper:{data}/f{i}.db?mode=hedging"
        for i in range(followers)
    ]
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
                brokers[i],
                "--journal",
                str(data / f"f{i}.jsonl"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(followers)
    ]
    hops: dict[str, float] = {}
    try:
        # Every follower subscribed (its status file is written from then on) before the
        # provider trades: a hundred processes starting on two cores take longer than any
        # fixed wait, and a follower that is late copies only the newest state.
        deadline = time.monotonic() + 60 + followers
        started = 0
        while started < followers and time.monotonic() < deadline:
            time.sleep(0.2)
            started = sum((data / f"f{i}.status.json").exists() for i in range(followers))
        if started < followers:  # said, and measured as it is: the row's fills show it
            print(f"only {started} of {followers} followers started within "
                  f"{60 + followers} s; trading anyway", flush=True)  # fmt: skip
        asyncio.run(provide(port, data, changes, 0))
        follower_cpu = sum(cpu_seconds(proc.pid) for proc in procs)
        if path == "terminal":
            try:
                hops = asyncio.run(hop_costs(port))
            except HubRefused as exc:  # the terminal t0 is gone: no hop costs, said so
                print(f"no relay hop costs: {exc}", flush=True)
    finally:
        for proc in procs + terminals:
            proc.terminate()
        for proc in procs + terminals:
            proc.wait()
        stop(hub)
    latencies: list[float] = []
    stops: list[float] = []
    fills: list[dict[str, Any]] = []
    for i in range(followers):
        journal = data / f"f{i}.jsonl"
        if journal.exists():
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("event") == "fill" and entry.get("latency_ms") is not None:
                    latencies.append(float(entry["latency_ms"]))
                    fills.append(entry)
                elif entry.get("event") == "modify" and entry.get("latency_ms") is not None:
                    stops.append(float(entry["latency_ms"]))
    return {
        "path": path,
        **hops,
        "followers": followers,
        "fills": len(latencies),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "follower_cpu_ms_per_fill": follower_cpu * 1000 / max(1, len(latencies)),
        "stop_moves": len(stops),
        "stops_p50_ms": percentile(stops, 0.5),
        "stops_p99_ms": percentile(stops, 0.99),
        "hops": hop_table(fills),
    }


async def hop_costs(port: int, rounds: int = 300) -> dict[str, float]:
    """p50 of one hop each: a ping to the hub, and a relay request the terminal t0 answers."""
    from tradewire.clients import HubClient
    from tradewire.clients.relay import RelayClient

    client = HubClient("127.0.0.1", port, "probe", PASSWORD)
    await client.start()
    relay = RelayClient(client)
    pings, relayed = [], []
    for _ in range(rounds):
        pings.append(await client.ping() * 1000)
        started = time.perf_counter()
        await relay.request("t0", {"op": "account"})
        relayed.append((time.perf_counter() - started) * 1000)
    await client.close()
    return {
        "hub_rtt_p50_ms": round(percentile(pings, 0.5), 3),
        "relay_rtt_p50_ms": round(percentile(relayed, 0.5), 3),
        "relay_rtt_p99_ms": round(percentile(relayed, 0.99), 3),
    }


async def provider_change(broker: Any, rng: random.Random) -> None:
    """One change of the provider's paper account: a stop moved (one modification at each
    follower), a position closed, or one opened with stops (engine_inprocess.py makes the same)."""
    from tradewire.model import OrderRequest

    symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30"]
    positions = await broker.positions()
    roll = rng.random()
    if positions and roll < 0.2:
        moved = rng.choice(positions)
        quote = await broker.quote(moved.symbol)
        away = quote.bid * rng.uniform(0.003, 0.006)
        sl = round(quote.bid - away if moved.side == "buy" else quote.ask + away, 5)
        await broker.modify_position(moved.id, sl, moved.tp)
    elif positions and roll < 0.5:
        victim = rng.choice(positions)
        side = "sell" if victim.side == "buy" else "buy"
        await broker.market_order(
            OrderRequest(victim.symbol, side, victim.volume, position_id=victim.id)
        )
    else:
        symbol, side = rng.choice(symbols), rng.choice(["buy", "sell"])
        quote = await broker.quote(symbol)
        price, sign = (quote.ask, 1) if side == "buy" else (quote.bid, -1)
        sl, tp = price * (1 - sign * 0.005), price * (1 + sign * 0.005)
        await broker.market_order(OrderRequest(symbol, side, 0.1, sl=round(sl, 5), tp=round(tp, 5)))


async def provide(port: int, data: Path, changes: int, followers: int, gap_s: float = 0.4) -> None:
    from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
    from tradewire.clients import HubClient
    from tradewire.clients.provider import Provider

    broker = await PaperBroker.open(data / "prov.db", PaperSettings(mode="hedging"))
    client = HubClient("127.0.0.1", port, "prov", PASSWORD)
    await client.start()
    provider = Provider(broker, client, "alpha", refresh_s=30)
    task = asyncio.create_task(provider.run())
    await asyncio.sleep(3 + followers * 0.15)  # every follower connected and subscribed
    rng = random.Random(5)
    for _ in range(changes):
        await provider_change(broker, rng)
        await asyncio.sleep(gap_s)
    await asyncio.sleep(2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.close()
    await broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument(
        "--paths", nargs="+", choices=["paper", "terminal"], default=["paper", "terminal"]
    )
    args = parser.parse_args()
    raise_fd_limit()
    rows = []
    print(f"{'path':>8} {'followers':>9} {'fills':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for count in args.followers:
        for path in args.paths:
            started = time.monotonic()
            row = run_one(count, args.changes, path)
            rows.append(row)
            hops = (
                f"  hub rtt {row['hub_rtt_p50_ms']:.2f} ms, relay rtt {row['relay_rtt_p50_ms']:.2f}"
                f"/{row['relay_rtt_p99_ms']:.2f} ms (p50/p99)"
                if path == "terminal"
                else ""
            )
            print(
                f"{path:>8} {count:9} {row['fills']:6} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
                f"{row['max_ms']:7.1f}   ({time.monotonic() - started:.0f} s){hops}",
                flush=True,
            )
            print(
                f"{'':>8} {'':>9} stops moved at the followers' brokers: {row['stop_moves']}, "
                f"p50/p99 {row['stops_p50_ms']:.1f}/{row['stops_p99_ms']:.1f} ms",
                flush=True,
            )
            print_hops(row["hops"])
    print(f"wrote {write_result('copy_latency', {'args': vars(args), 'rows': rows})}")


if __name__ == "__main__":
    main()
