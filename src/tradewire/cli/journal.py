"""``tradewire journal stats|hops|plot``: copy quality from follower journals."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec
from rich import box
from rich.table import Table

from tradewire.cli.common import console, fail, reports_errors
from tradewire.clients.hops import MEANING, hop_table
from tradewire.clients.journal_stats import entries, quality

Paths = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("journal")
def journal_group() -> None:
    """Copy quality from follower journals (the JSON lines `tradewire follow` writes)."""


@journal_group.command("stats")
@click.argument("journals", nargs=-1, required=True, type=Paths)
@click.option(
    "--by",
    type=click.Choice(["symbol", "day", "both", "all"]),
    default="symbol",
    show_default=True,
    help="How to group the figures.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group instead.")
@reports_errors
def journal_stats(journals: tuple[Path, ...], by: str, as_json: bool) -> None:
    """Fills, rejects, skips, errors, latency p50/p99 (ms, provider change to fill) and
    slippage (points against the provider's entry) per symbol, per day, or both."""
    groups = quality(journals, by)
    if not groups:
        fail("the journals hold no entry yet")
    if as_json:
        for key, q in groups.items():
            click.echo(msgspec.json.encode({"group": list(key), **q.row()}).decode())
        return
    heads = {"symbol": ["symbol"], "day": ["day"], "both": ["day", "symbol"], "all": ["all"]}[by]
    table = Table(title="copy quality (latency ms; slippage points)", box=box.SIMPLE_HEAD)
    for head in heads:
        table.add_column(head, no_wrap=True)
    for head in ("fills", "rej", "skip", "err", "p50", "p99", "slip avg", "slip p99"):
        table.add_column(head, justify="right", no_wrap=True)
    for key, q in groups.items():
        r = q.row()
        table.add_row(
            *key, *(str(r[e]) for e in ("fill", "reject", "skip", "error")),
            *("-" if r[k] is None else f"{r[k]:g}" for k in
              ("latency_p50_ms", "latency_p99_ms", "slippage_mean_pts", "slippage_p99_pts")),
        )  # fmt: skip
    console.print(table)


@journal_group.command("hops")
@click.argument("journals", nargs=-1, required=True, type=Paths)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead.")
@reports_errors
def journal_hops(journals: tuple[Path, ...], as_json: bool) -> None:
    """Where copy latency goes: p50/p99/max of each hop from the provider's change to the
    fill (docs/latency.md), over every fill of the journals."""
    table_data = hop_table(entries(journals))
    if table_data["total"]["n"] == 0 and table_data["fill"]["n"] == 0:
        fail(
            "the journals hold no fill with hop stamps yet (journals written before hops were "
            "stamped have none)"
        )
    if as_json:
        click.echo(msgspec.json.encode(table_data).decode())
        return
    table = Table(title="copy latency per hop (ms)", box=box.SIMPLE_HEAD)
    for head in ("hop", "fills", "p50", "p99", "max"):
        table.add_column(head, justify="left" if head == "hop" else "right", no_wrap=True)
    table.add_column("from -> to")
    for name, row in table_data.items():
        table.add_row(
            name, str(row["n"]),
            *("-" if row[k] is None else f"{row[k]:.3f}" for k in ("p50_ms", "p99_ms", "max_ms")),
            MEANING[name],
        )  # fmt: skip
    console.print(table)


@journal_group.command("plot")
@click.argument("journals", nargs=-1, required=True, type=Paths)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("copy-quality.png"),
    show_default=True,
    help="The PNG to write.",
)
@reports_errors
def journal_plot(journals: tuple[Path, ...], out: Path) -> None:
    """A PNG: the latency histogram and the slippage of each fill over time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("journal plot needs matplotlib: pip install 'tradewire[plot]'")
    fills = [e for e in entries(journals) if e.get("event") == "fill"]
    if not fills:
        fail("the journals hold no fill to plot yet")
    latencies = [float(e["latency_ms"]) for e in fills if e.get("latency_ms") is not None]
    slipped = [(e["time_ms"] / 1000, e["slippage_points"]) for e in fills
               if e.get("slippage_points") is not None]  # fmt: skip
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(latencies, bins=40, color="#3572a5")
    left.set(title="copy latency (provider change to fill)", xlabel="ms", ylabel="fills")
    if slipped:
        import datetime as dt

        times = [dt.datetime.fromtimestamp(t, dt.UTC) for t, _ in slipped]
        right.scatter(times, [s for _, s in slipped], s=8, color="#c0392b")
        right.axhline(0, color="grey", linewidth=0.8)
        figure.autofmt_xdate()
    right.set(title="slippage per fill (positive: worse)", xlabel="time (UTC)", ylabel="points")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    console.print(f"wrote {out} ({len(fills)} fills)")
