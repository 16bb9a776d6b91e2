"""The copy engine: one ``tradewire follow --accounts`` process copies a channel onto 1, 10, 100
and 1,000 paper accounts (hedging), from a provider trading a paper account here.

The hub and the engine are processes of their own; the provider runs here and makes 40 changes,
400 ms apart (``--changes``, ``--gap-s``). Each account journals its fills with their hop stamps
(docs/latency.md). Per state, over every account that filled from it:

- ``recv -> last submit``: the engine received the state -> its last order was sent to a
  broker (the hops ``plan`` + ``submit`` of the account whose order left last);
- ``change -> last fill``: the provider saw the change -> the last account's fill (``total``).

The p50/p99 are over the states; the hop table has the p50/p99/max of every hop over every fill.

    .venv/bin/python benchmarks/copy_engine.py --accounts 1 10 100 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    BIN,
    bench_hub,
    percentile,
    print_hops,
    raise_fd_limit,
    stop,
    tree_cpu_seconds,
    write_result,
)
from copy_latency import provide

from tradewire.clients.hops import hop_table


def run_one(
    accounts: int, changes: int, gap_s: float, profile: Path | None = None, workers: int = 1
) -> dict[str, Any]:
    users = [("prov", "provider", ["alpha"]), ("engine", "follower", ["alpha"])]
    hub, port, data, env = bench_hub("tw-engine-", users)
    (data / "accounts.toml").write_text(
        "".join(
            f'[[account]]\nname = "a{i}"\nchannel = "alpha"\n'
            f'broker = "paper:{data}/a{i}.db?mode=hedging"\n'
            f'journal = "{data}/j/a{i}.jsonl"\n'
            for i in range(accounts)
        )
    )
    engine = subprocess.Popen(
        [
            str(BIN / "tradewire"),
            "--log-level",
            "warning",
            "follow",
            "--hub",
            f"127.0.0.1:{port}",
            "--user",
            "engine",
            "--accounts",
            str(data / "accounts.toml"),
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = time.monotonic() + 60 + accounts * 0.05
        while not (data / "accounts.status.json").exists():  # every account open, subscribed
            assert time.monotonic() < ready and engine.poll() is None, "the engine did not start"
            time.sleep(0.2)
        if workers > 1:  # the merged status is written once every worker reported
            while (
                len(json.loads((data / "accounts.status.json").read_text())["accounts"]) < accounts
            ):
                assert time.monotonic() < ready and engine.poll() is None, "no workers"
                time.sleep(0.2)
        before = tree_cpu_seconds(engine.pid)
        spy = None
        if (
            profile is not None and workers == 1
        ):  # py-spy samples the engine while the provider trades
            profile.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(engine.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--gil",
                    "-o",
                    str(profile / f"engine-{accounts}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        asyncio.run(provide(port, data, changes, 0, gap_s))
        engine_cpu = tree_cpu_seconds(engine.pid) - before
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=30)
            assert profile is not None
            if not (profile / f"engine-{accounts}.txt").exists():  # said, not silently left out
                print(f"py-spy recorded nothing (exit {spy.returncode}; it needs ptrace: root, "
                      "or kernel.yama.ptrace_scope=0): no profile for this row")  # fmt: skip
    finally:
        stop(engine)
        stop(hub)
    fills = [
        json.loads(line)
        for i in range(accounts)
        if (data / "j" / f"a{i}.jsonl").exists()
        for line in (data / "j" / f"a{i}.jsonl").read_text().splitlines()
    ]
    fills = [f for f in fills if f.get("event") == "fill" and f.get("hops_ms")]
    submitted: dict[int, float] = {}
    filled: dict[int, float] = {}
    for fill in fills:
        hops = fill["hops_ms"]
        seq = fill["seq"]
        if "plan" in hops and "submit" in hops:
            submitted[seq] = max(submitted.get(seq, 0.0), hops["plan"] + hops["submit"])
        if "total" in hops:
            filled[seq] = max(filled.get(seq, 0.0), hops["total"])
    subs, totals = list(submitted.values()), list(filled.values())
    return {
        "accounts": accounts,
        "workers": workers,
        "states": len(filled),
        "fills": len(fills),
        "recv_to_last_submit_p50_ms": percentile(subs, 0.5),
        "recv_to_last_submit_p99_ms": percentile(subs, 0.99),
        "change_to_last_fill_p50_ms": percentile(totals, 0.5),
        "change_to_last_fill_p99_ms": percentile(totals, 0.99),
        "change_to_last_fill_max_ms": max(totals) if totals else float("nan"),
        "engine_cpu_ms_per_fill": engine_cpu * 1000 / max(1, len(fills)),
        "hops": hop_table(fills),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="Engine processes (--workers)."
    )
    parser.add_argument("--gap-s", type=float, default=0.4, help="Between provider changes.")
    parser.add_argument(
        "--profile", type=Path, help="Record the engine with py-spy into this directory."
    )
    args = parser.parse_args()
    raise_fd_limit()
    rows = []
    print(
        f"{'accounts':>8} {'workers':>7} {'fills':>6} {'recv->submit p50/p99 ms':>24} "
        f"{'change->fill p50/p99/max ms':>28} {'CPU ms/fill':>11}"
    )
    for count, workers in [(a, w) for a in args.accounts for w in args.workers]:
        if workers > count:
            continue
        started = time.monotonic()
        row = run_one(count, args.changes, args.gap_s, args.profile, workers)
        rows.append(row)
        print(
            f"{count:8} {workers:7} {row['fills']:6} {row['recv_to_last_submit_p50_ms']:11.2f} /"
            f"{row['recv_to_last_submit_p99_ms']:8.2f}   {row['change_to_last_fill_p50_ms']:8.2f} /"
            f"{row['change_to_last_fill_p99_ms']:7.2f} /{row['change_to_last_fill_max_ms']:7.2f}"
            f" {row['engine_cpu_ms_per_fill']:11.3f}   ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        print_hops(row["hops"])
    args.profile = str(args.profile) if args.profile else None
    print(f"wrote {write_result('copy_engine', {'args': vars(args), 'rows': rows})}")


if __name__ == "__main__":
    main()
