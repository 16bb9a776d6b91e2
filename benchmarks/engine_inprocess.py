"""The copy engine alone, in one process: N hedging paper accounts, and a paper provider whose
states are handed to the engine directly (no hub, no sockets), one change at a time. It measures
what the engine costs per fill, split into the event loop's thread and the paper accounts'
SQLite thread, and how long every account takes to have planned, filled and verified a change.

It is the quick before/after check for a change to the engine's hot path (``make bench``'s
``copy_engine.py`` measures the whole path, hub included). Run it a few times, alternating with
the code before the change (``PYTHONPATH=/path/to/worktree/src``): single runs vary by 15% on a
small shared machine.

    .venv/bin/python benchmarks/engine_inprocess.py --accounts 1000 --changes 30 [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import shutil
import tempfile
import time
from pathlib import Path

from copy_latency import provider_change

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.cli.engine_accounts import calm_collector, make_followers, open_all
from tradewire.clients.accounts import load_accounts
from tradewire.clients.engine import CopyEngine
from tradewire.clock import micros
from tradewire.copy import ProviderState


async def run(accounts: int, changes: int, profile: bool) -> None:
    data = Path(tempfile.mkdtemp(prefix="tw-engine-"))
    (data / "accounts.toml").write_text(
        "".join(
            f'[[account]]\nname = "a{i}"\nchannel = "alpha"\n'
            f'broker = "paper:{data}/a{i}.db?mode=hedging"\njournal = "{data}/j/a{i}.jsonl"\n'
            for i in range(accounts)
        )
    )
    specs = load_accounts(data / "accounts.toml")
    engine = CopyEngine(await make_followers(specs, await open_all(specs)))
    calm_collector()
    provider = await PaperBroker.open(data / "provider.db", PaperSettings(mode="hedging"))
    task = asyncio.create_task(engine.run())
    rng, profiler = random.Random(5), cProfile.Profile() if profile else None
    walls: list[float] = []
    cpu = loop_cpu = 0.0
    for seq in range(1, changes + 1):
        await provider_change(provider, rng)
        state = ProviderState(
            await provider.account(),
            await provider.positions(),
            int(time.time() * 1000),
            seq,
            await provider.orders(),
        )
        rounds = {name: f.rounds for name, f in engine.followers.items()}
        started, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        stamps = [0, 0, 0, micros(time.monotonic())]
        for follower in engine.followers.values():
            follower.accept(state, stamps, "alpha")
        # done: every account ran a round on this state since, and the last found nothing to do
        while not all(  # noqa: ASYNC110 (polled: the followers have no event for this)
            f.rounds > rounds[name] and f.in_sync() for name, f in engine.followers.items()
        ):
            await asyncio.sleep(0.001)
        if profiler is not None:
            profiler.disable()
        walls.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - cpu0
        loop_cpu += time.thread_time() - loop0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await provider.close()
    shutil.rmtree(data, ignore_errors=True)  # 1,000 accounts' files: not left in /tmp
    counts = [f.journal.counts for f in engine.followers.values()]
    done = max(1, sum(c["fill"] + c["modify"] for c in counts))
    walls.sort()
    print(
        f"{accounts} accounts, {changes} changes, {done} fills and stop moves: CPU per fill "
        f"{cpu / done * 1000:.3f} ms (event loop's thread {loop_cpu / done * 1000:.3f}); "
        f"every account done, p50 {walls[len(walls) // 2]:.1f} ms, max {walls[-1]:.1f} ms"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def positive(text: str) -> int:
    """A whole number of at least 1, or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=positive, default=1000, help="paper accounts (>= 1)")
    parser.add_argument("--changes", type=positive, default=30, help="provider changes (>= 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile the changes (slower)")
    args = parser.parse_args()
    asyncio.run(run(args.accounts, args.changes, args.profile))


if __name__ == "__main__":
    main()
