"""A channel's history at its limits: how long its figures take (``channel_stats``, read and
computed) over a history filled to ``[history] max_bytes_per_channel`` (64 MiB) or
``max_points_per_channel`` (200,000 moments), and how fast a what-if replay goes (moments a
second, one process, as the hub starts it).

    .venv/bin/python benchmarks/history.py --positions 20 --moments 200000 --replay 2000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from common import write_result

from tradewire.config import HistorySettings
from tradewire.hub.services.history.simulations import Simulations
from tradewire.model import Position
from tradewire.protocol.frames.history import SimulateRequest
from tradewire.stats.channel import Point
from tradewire.store.history import HistoryStore

SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "XAUUSD"]
T0 = 1_780_000_000_000


def history(moments: int, positions: int, seed: int = 7) -> list[Point]:
    """A provider holding ``positions`` positions, one of them replaced at every change (a
    close at a profit or loss, then an open), an equity sample between changes."""
    rng = random.Random(seed)
    prices = {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0, "AUDUSD": 0.65, "USDCHF": 0.9,
              "XAUUSD": 2000.0}  # fmt: skip
    held = [
        Position(str(n), SYMBOLS[n % 6], "buy", 0.1, prices[SYMBOLS[n % 6]], T0)
        for n in range(positions)
    ]
    balance, points, next_id = 10_000.0, [], positions
    for i in range(moments):
        ts = T0 + i * 30_000
        if i % 2:
            points.append(Point(ts, balance, balance + rng.uniform(-50, 50), None))
            continue
        gone = held.pop(rng.randrange(len(held)))
        balance += rng.uniform(-20, 25)
        symbol = gone.symbol
        held.append(Position(str(next_id), symbol, rng.choice(["buy", "sell"]), 0.1,
                             prices[symbol] * rng.uniform(0.99, 1.01), ts))  # fmt: skip
        next_id += 1
        points.append(Point(ts, balance, balance, tuple(held)))
    return points


async def fill(data: Path, points: list[Point], limits: HistorySettings) -> int:
    store = HistoryStore(data, asyncio.get_running_loop())
    store.start()
    kept = 0
    for n, point in enumerate(points):
        kept += store.put("alpha", "USD", point)
        if n % 1000 == 999:
            store.prune("alpha", 0, limits.max_points_per_channel, limits.max_bytes_per_channel)
            await store.flush()
    store.prune("alpha", 0, limits.max_points_per_channel, limits.max_bytes_per_channel)
    await store.flush()
    await asyncio.to_thread(store.stop)
    return kept


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--moments", type=int, default=200_000)
    parser.add_argument("--replay", type=int, default=2_000, help="moments a replay covers")
    args = parser.parse_args()
    limits = HistorySettings()
    from tradewire.clock import SystemClock
    from tradewire.hub.services.history.service import HistoryService

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        points = history(args.moments, args.positions)
        started = time.perf_counter()
        await fill(data, points, limits)
        filled_s = time.perf_counter() - started
        size = (data / "history.db").stat().st_size
        store = HistoryStore(data, asyncio.get_running_loop())
        store.start()
        service = HistoryService(limits, store, SystemClock(), None, asyncio.create_task)  # type: ignore[arg-type]
        _, kept = await store.points("alpha")
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            figures = await service.figures("alpha")
            timings.append(time.perf_counter() - started)
        assert figures is not None
        since = kept[-args.replay].ts if len(kept) > args.replay else None
        simulations = Simulations(
            HistorySettings(simulate_max_moments=1_000_000, simulate_timeout_s=3600), data, ""
        )
        started = time.perf_counter()
        result = await simulations.run(SimulateRequest(ch="alpha", deposit=5_000, since_ms=since))
        replay_s = time.perf_counter() - started
        await asyncio.to_thread(store.stop)
    changes = sum(1 for p in kept if p.positions is not None)
    out = {
        "positions": args.positions,
        "moments_made": args.moments,
        "moments_kept": len(kept),
        "db_bytes": size,
        "fill_s": round(filled_s, 1),
        "figures_s": [round(t, 3) for t in timings],
        "replay_moments": result.moments,
        "replay_s": round(replay_s, 2),
        "replay_moments_per_s": round(result.moments / replay_s, 1),
        "changes_kept": changes,
    }
    print(out)
    write_result("history", out)


if __name__ == "__main__":
    asyncio.run(main())
