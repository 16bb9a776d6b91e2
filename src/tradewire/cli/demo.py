"""``tradewire demo``: the whole system on one machine, with a live view."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
import uvloop
from rich.live import Live

from tradewire.cli.common import console
from tradewire.demo import run as demo_run
from tradewire.demo.view import crowd_table, protection, render, summary, topic_lines


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=3),
    default=60.0,
    show_default=True,
    help="Seconds of trading before the demo stops and checks every follower.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of the prices and of the trader's decisions.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the hub's and accounts' data here [default: a temporary "
    "directory, removed afterwards].",
)
@click.option(
    "--terminals",
    is_flag=True,
    help="Each follower trades through a simulated MetaTrader 5 bridge terminal (tradewire "
    "terminal sim) over the hub's relay: provider -> hub -> follower -> terminal -> fill.",
)
def demo(duration: float, seed: int, data_dir: Path | None, terminals: bool) -> None:
    """Run a hub, a paper provider trading several symbols (about one change a second,
    partial closes and reversals included) and three followers with different rules; show
    them live; after --duration check that every follower ended in sync (exit 1 if not)."""
    temporary = data_dir is None
    path = data_dir or Path(tempfile.mkdtemp(prefix="tradewire-demo-"))
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            ok = runner.run(_demo(duration, seed, path, terminals))
    finally:
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
    sys.exit(0 if ok else 1)


async def _demo(duration: float, seed: int, path: Path, terminals: bool) -> bool:
    via = " trading through simulated MT5 bridge terminals" if terminals else ""
    console.print(
        f"starting the hub, a provider and {len(demo_run.FOLLOWERS)} followers{via} "
        f"(data in {path})"
    )
    d = await demo_run.start(path, seed, terminals)
    until = time.monotonic() + duration
    try:
        if console.is_terminal:
            with Live(await render(d, duration), console=console, refresh_per_second=4) as live:

                async def refresh() -> None:
                    while True:
                        live.update(await render(d, duration))
                        await asyncio.sleep(0.25)

                refresher = asyncio.create_task(refresh())
                await demo_run.trade(d, until, seed, lambda: None)
                refresher.cancel()
        else:
            last = [time.monotonic()]

            def progress() -> None:
                if time.monotonic() - last[0] >= 5:
                    last[0] = time.monotonic()
                    console.print(
                        f"{time.monotonic() - d.started:4.0f} s: "
                        f"{d.trader.changes} provider changes, hub seq "
                        f"{d.provider.last_seq}",
                        highlight=False,
                    )

            await demo_run.trade(d, until, seed, progress)
        console.print("trading stopped; waiting for the followers to settle…")
        await demo_run.settle(d)
        if console.is_terminal:
            console.print(await render(d, duration))
        console.print(summary(d))
        console.print(protection(d))
        console.print(crowd_table(d))
        console.print(topic_lines(d), highlight=False)
        if d.tick_sender is not None:
            await d.tick_sender.flush()
        ticks = await asyncio.to_thread(demo_run.stored_ticks, d.data_dir)
        console.print(
            "ticks stored: " + (", ".join(f"{s} {n}" for s, n, _, _ in ticks) or "none"),
            highlight=False,
        )
        ok = all(r.in_sync for r in d.followers)
        console.print(
            "[green]every follower ended in sync[/]"
            if ok
            else "[red]a follower did not end in sync[/]"
        )
        return ok
    finally:
        await demo_run.stop(d)
