"""The demo's live view and final summary, drawn with rich."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.table import Table

from tradewire.clients.journal import percentile
from tradewire.demo.run import Demo, RunningFollower


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


async def render(demo: Demo, duration: float) -> RenderableType:
    elapsed = time.monotonic() - demo.started
    provider_positions = await demo.provider_broker.positions()
    head = (
        f"[bold]tradewire demo[/]  {elapsed:4.0f}/{duration:.0f} s   provider changes "
        f"{demo.trader.changes}   hub seq {demo.provider.last_seq}   last: {demo.last_action}"
    )
    provider = Table(
        "id", "symbol", "side", "volume", "price", "sl", "tp",
        title="provider (hedging)", title_justify="left",
    )  # fmt: skip
    for p in provider_positions[-8:]:
        provider.add_row(
            p.id, p.symbol, p.side, f"{p.volume:g}", f"{p.price}", f"{p.sl:g}", f"{p.tp:g}"
        )
    for o in await demo.provider_broker.orders():
        provider.add_row(
            o.id, o.symbol, o.type, f"{o.volume:g}", f"{o.price}", f"{o.sl:g}", f"{o.tp:g}"
        )
    if len(provider_positions) > 8:
        provider.caption = f"… and {len(provider_positions) - 8} more positions"
    followers = Table(
        "follower",
        "rules",
        "held vs target",
        "fills",
        "skips",
        "rejects",
        "latency p50/p99 ms",
        title="followers",
        title_justify="left",
    )
    for running in demo.followers:
        followers.add_row(*await _follower_row(running))
    return Group(head, provider, followers, crowd_table(demo), topic_lines(demo))


def crowd_table(demo: Demo) -> Table:
    """The sentiment service's figures, as the provider's session receives them."""
    table = Table(
        "symbol", "long %", "short %", "lots L/S", "users",
        title="crowd (sentiment service: every account's positions, 3 users at least)",
        title_justify="left",
    )  # fmt: skip
    rows = sorted(demo.crowd.rows.values(), key=lambda r: r.symbol) if demo.crowd else []
    for r in rows:
        table.add_row(
            r.symbol, f"{r.long_pct:.0f}", f"{r.short_pct:.0f}",
            f"{r.long_volume:g}/{r.short_volume:g}", str(r.contributors),
        )  # fmt: skip
    return table


def topic_lines(demo: Demo) -> str:
    """The latest indicator values the hub published from the provider's ticks (topics)."""
    latest = demo.topics.latest if demo.topics else {}
    if not latest:
        return "topics: waiting for the first 5-second bar of EURUSD…"
    return "topics: " + "   ".join(
        f"{name} = {v.value['value']:.5f} (seq {v.seq})" for name, v in sorted(latest.items())
    )


async def _follower_row(running: RunningFollower) -> list[str]:
    f = running.follower
    held: dict[str, float] = {}
    for p in await running.broker.positions():
        held[p.symbol] = round(
            held.get(p.symbol, 0.0) + (p.volume if p.side == "buy" else -p.volume), 8
        )
    target: dict[str, float] = {}
    if f.last_plan is not None:
        for goal in f.last_plan.target.values():
            signed = goal.volume if goal.side == "buy" else -goal.volume
            target[goal.symbol] = round(target.get(goal.symbol, 0.0) + signed, 8)
    cells = []
    for symbol in sorted(held.keys() | target.keys()):
        h, t = held.get(symbol, 0.0), target.get(symbol, 0.0)
        mark = "" if abs(h - t) < 1e-9 else " [yellow]…[/]"
        cells.append(f"{symbol} {h:+g}/{t:+g}{mark}")
    counts = f.journal.counts
    latency = (
        f"{_ms(percentile(f.journal.latencies_ms, 0.5))}/"
        f"{_ms(percentile(f.journal.latencies_ms, 0.99))}"
    )
    return [
        running.spec.name,
        running.spec.description
        + (f"\nvia terminal {running.terminal.name}" if running.terminal is not None else ""),
        "\n".join(cells) or "flat",
        str(counts["fill"]),
        str(counts["skip"]),
        str(counts["reject"]),
        latency,
    ]


def summary(demo: Demo) -> Table:
    table = Table(
        "follower",
        "sync",
        "fills",
        "rej",
        "skip",
        "p50 ms",
        "p99 ms",
        "max ms",
        "slip pts",
        title="summary (latency: provider change -> follower fill)",
    )
    for running in demo.followers:
        j = running.follower.journal
        slips = j.slippage_points
        table.add_row(
            running.spec.name,
            "[green]yes[/]" if running.in_sync else "[red]NO[/]",
            str(j.counts["fill"]),
            str(j.counts["reject"]),
            str(j.counts["skip"]),
            _ms(percentile(j.latencies_ms, 0.5)),
            _ms(percentile(j.latencies_ms, 0.99)),
            _ms(max(j.latencies_ms) if j.latencies_ms else None),
            f"{sum(slips) / len(slips):.1f}" if slips else "-",
        )
    return table


def protection(demo: Demo) -> Table:
    """What each follower did to copy the provider's stops and pending orders."""
    table = Table(
        "follower", "stops set", "orders placed", "moved", "cancelled", "held now",
        title="protection copied (stops set: fills that placed a stop, and stop modifications; "
        "held now: positions with a stop / pending orders at the follower's broker)",
    )  # fmt: skip
    for running in demo.followers:
        f, counts = running.follower, running.follower.journal.counts
        view = f.last_view
        stopped = sum(1 for p in view.positions if p.sl or p.tp) if view else 0
        table.add_row(
            running.spec.name, str(f.stops_set), str(counts["place"]), str(counts["move"]),
            str(counts["cancel"]), f"{stopped} / {len(view.orders) if view else 0}",
        )  # fmt: skip
    return table
