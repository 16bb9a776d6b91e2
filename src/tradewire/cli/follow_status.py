"""``tradewire follow --status``: the running follower's targets against what it holds
(volumes, stops, pending orders), what is not its own, what is stopped, and its last decisions.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from tradewire.cli.common import console, fail


def read_status(path: Path, journal: Path) -> dict[str, Any]:
    """The status file ``path`` the follower of ``journal`` keeps (or a one-line error)."""
    if not path.exists():
        fail(f"no status at {path}: is `tradewire follow` running with --journal {journal}?")
    status: dict[str, Any] = json.loads(path.read_text())
    return status


def print_status(path: Path, journal: Path) -> None:
    """Print the status file ``path`` the follower of ``journal`` keeps."""
    status = read_status(path, journal)
    _verdict(status)
    _positions(status)
    print_explanations(status, None)
    _protection(status)
    _orders(status)
    console.print(
        f"pending orders: {len(status['pending'])}; stopped: {status['stopped']}; "
        f"latency p50/p99 ms: {status.get('latency_ms_p50')}/"
        f"{status.get('latency_ms_p99')}"
    )
    decisions = Table("time (UTC)", "event", "symbol", "detail", title="last decisions")
    for entry in status["recent"][-10:]:
        detail = (
            entry.get("reason")
            or f"{entry.get('action', '')} {entry.get('side', '')} {entry.get('volume', '')}"
        )
        decisions.add_row(iso_ms(entry["time_ms"]), entry["event"], entry.get("symbol", ""), detail)
    console.print(decisions)


def iso_ms(time_ms: int) -> str:
    """A journal time (Unix ms) as people read it: 2026-12-07 12:54:36.123 (UTC)."""
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _verdict(status: dict[str, Any]) -> None:
    """The answer first: in sync or not, and what the account made so far."""
    synced = status.get("in_sync")
    line = "[green]in sync[/]" if synced else "[yellow]catching up[/]"
    if status.get("stopped") or status.get("breakers"):
        line = "[red]STOPPED[/] (below)"
    account = status.get("account")
    if account:
        floating = account["equity"] - account["balance"]
        line += (
            f"; account {account['login']}: balance {account['balance']:,.2f} "
            f"{account['currency']}, equity {account['equity']:,.2f}, floating P/L "
            f"{floating:+,.2f}"
        )
    console.print(line, highlight=False, soft_wrap=True)


def print_explanations(status: dict[str, Any], symbol: str | None) -> None:
    """Why each target is what it is: its formula and numbers, each limit and guard."""
    targets, notes = status["target"], status.get("explain", {})
    shown = 0
    for key, text in sorted(notes.items()):
        name = targets.get(key, {}).get("symbol", key)
        if symbol is None or symbol in (key, name):
            console.print(f"  {key}: {text}", highlight=False, soft_wrap=True)
            shown += 1
    if symbol is not None and not shown:
        fail(f"no target of {symbol} now (targets: {', '.join(sorted(notes)) or 'none'})")


def _level(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"  # 0 is no stop, shown as 0


def _positions(status: dict[str, Any]) -> None:
    table = Table(
        "link", "symbol", "target", "held", "sl target", "sl held", "tp target", "tp held",
        title=f"channel {status['channel']} "
        f"(seq {status['seq']}); held: positions with magic {status.get('magic')}",
    )  # fmt: skip
    targets, held = status["target"], status.get("held", {})
    stops = status.get("stops", {})
    for key in sorted(targets.keys() | held.keys()):
        t = targets.get(key)
        signed = (t["volume"] if t["side"] == "buy" else -t["volume"]) if t else 0.0
        symbol = t["symbol"] if t else held[key]["symbol"]
        s = stops.get(key, {})
        table.add_row(
            key, symbol, f"{signed:+.2f}", f"{held.get(key, {}).get('volume', 0.0):+.2f}",
            _level(s.get("target_sl")), _level(s.get("sl")),
            _level(s.get("target_tp")), _level(s.get("tp")),
        )  # fmt: skip
    console.print(table)


def _protection(status: dict[str, Any]) -> None:
    """Netting positions shared with other trades, and symbols the breaker stopped."""
    shared = {s: h for s, h in status.get("holdings", {}).items() if abs(h["foreign"]) > 1e-9}
    if shared:
        table = Table("symbol", "position", "follower's own", "not the follower's (left alone)")
        for symbol, h in sorted(shared.items()):
            table.add_row(symbol, f"{h['net']:+.2f}", f"{h['own']:+.2f}", f"{h['foreign']:+.2f}")
        console.print(table)
    for key, reason in sorted(status.get("breakers", {}).items()):
        console.print(
            f"[red]STOPPED[/red] {key}: {reason}\n  when fixed: tradewire follow --journal "
            f"FILE --clear-breaker {key}"
        )


def _orders(status: dict[str, Any]) -> None:
    """Pending orders the provider's call for at the follower, against those it has."""
    orders = status.get("orders") or {}
    wanted, held = orders.get("target"), orders.get("held", {})
    if not wanted and not held:
        return
    table = Table(
        "order", "type", "lots", "target", "held", "sl", "tp", "ticket",
        title="pending orders at the broker (provider order: target price, held price)",
        box=None,
    )  # fmt: skip
    expiring = []
    for link in sorted((wanted or {}).keys() | held.keys()):
        w, h = (wanted or {}).get(link), held.get(link)
        shown = w or h
        if shown.get("expiration"):
            expiring.append(f"{link} expires at {shown['expiration']}")
        table.add_row(
            link, shown["type"], f"{shown['volume']:g}",
            f"{w['price']:g}" if w else "-", f"{h['price']:g}" if h else "-",
            _level(shown.get("sl", 0.0)), _level(shown.get("tp", 0.0)),
            h["id"] if h else "(none)",
        )  # fmt: skip
    if expiring:
        table.caption = "; ".join(expiring)
    if wanted is None:
        table.caption = "the provider sends no orders (protocol 1.1): linked orders left alone"
    console.print(table)
