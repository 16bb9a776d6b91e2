"""A channel's trades, deposits and returns, read from the moments the hub kept of it and the
deals its provider sent (the rules: stats/channel.py's docstring, docs/statistics.md). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradewire.model import Deal, Mode, PendingOrder, Position

EPS = 1e-9
CENT = 0.005  # a balance difference below this beside the deals is rounding, not a deposit


@dataclass(frozen=True)
class Point:
    ts: int  # Unix ms
    balance: float
    equity: float
    positions: tuple[Position, ...] | None  # None: an equity sample, positions as before
    margin: float = 0.0
    # With the positions: the provider's pending orders (None: it sent none, protocol 1.1),
    # and its account's mode and leverage (what a what-if replay hands the copier).
    orders: tuple[PendingOrder, ...] | None = None
    mode: Mode = "hedging"
    leverage: int = 100


@dataclass(frozen=True)
class Trade:
    position_id: str
    symbol: str
    volume: float
    opened_ms: int
    closed_ms: int
    profit: float


@dataclass(frozen=True)
class _Walk:
    trades: list[Trade]
    flows: list[float]  # per point: the deposit (+) or withdrawal (-) at it
    returns: list[tuple[int, float]]  # (ts, trading profit / balance before) per closing point
    from_deals: bool = False  # some point's profit came from deals
    commission: float = 0.0
    swap: float = 0.0


class _Opened:
    """What a position's opening deals say: when it opened, and the commission per lot."""

    def __init__(self, deals: Sequence[tuple[int, Deal]]) -> None:
        self._first: dict[str, int] = {}  # its first opening deal
        self._reversed: dict[str, list[int]] = {}  # netting reversals: the rest opens there
        volume: dict[str, float] = {}
        paid: dict[str, float] = {}
        for _, d in deals:
            if d.entry == "in":
                self._first.setdefault(d.position_id, d.time)
                volume[d.position_id] = volume.get(d.position_id, 0.0) + d.volume
                paid[d.position_id] = paid.get(d.position_id, 0.0) + d.commission
            elif d.entry == "inout":
                self._reversed.setdefault(d.position_id, []).append(d.time)
        self.per_lot = {k: paid[k] / v for k, v in volume.items() if v > EPS}

    def since(self, position_id: str, closed_ms: int) -> int | None:
        """When what ``position_id`` closed at ``closed_ms`` was opened, if the deals say."""
        reversals = [t for t in self._reversed.get(position_id, ()) if t < closed_ms]
        return max(reversals) if reversals else self._first.get(position_id)


def _windows(points: Sequence[Point], deals: Sequence[tuple[int, Deal]]) -> list[list[Deal]]:
    """The deals placed after each point's predecessor and up to it (none for the first)."""
    windows: list[list[Deal]] = [[] for _ in points]
    i = 1
    for at, deal in deals:  # sorted by place
        if not points or at <= points[0].ts:
            continue
        while i < len(points) and points[i].ts < at:
            i += 1
        if i == len(points):
            break
        windows[i].append(deal)
    return windows


def walk(points: Sequence[Point], deals: Sequence[tuple[int, Deal]] = ()) -> _Walk:
    """The trades, flows and returns the points (and deals) say."""
    trades: list[Trade] = []
    flows = [0.0] * len(points)
    returns: list[tuple[int, float]] = []
    windows = _windows(points, deals)
    opened = _Opened(deals)
    commission = swap = 0.0
    held = {p.id: p for p in (points[0].positions or ())} if points else {}
    for i in range(1, len(points)):
        before, now = points[i - 1], points[i]
        change = now.balance - before.balance
        if windows[i]:
            net = 0.0
            for d in windows[i]:
                net += d.profit + d.commission + d.swap
                commission += d.commission
                swap += d.swap
                if d.entry == "in":
                    continue
                since = opened.since(d.position_id, d.time)
                if since is None and d.position_id in held:
                    since = held[d.position_id].time
                entry_cost = opened.per_lot.get(d.position_id, 0.0) * d.volume
                result = d.profit + d.commission + d.swap + entry_cost
                trades.append(
                    Trade(d.position_id, d.symbol, d.volume, since or d.time, d.time, result)
                )
            if abs(change - net) > CENT:
                flows[i] = change - net
            if before.balance > EPS and abs(net) > EPS:
                returns.append((now.ts, net / before.balance))
            if now.positions is not None:
                held = {p.id: p for p in now.positions}
            continue
        if now.positions is None:
            if abs(change) > EPS:  # a sample never carries a balance change; if it does: a flow
                flows[i] = change
            continue
        current = {p.id: p for p in now.positions}
        closed = [
            (p, p.volume - (current[p.id].volume if p.id in current else 0.0))
            for p in held.values()
        ]
        closed = [(p, v) for p, v in closed if v > EPS]
        if closed:
            total = sum(v for _, v in closed)
            for p, volume in closed:
                share = change * volume / total
                trades.append(Trade(p.id, p.symbol, volume, p.time, now.ts, share))
            if before.balance > EPS:
                returns.append((now.ts, change / before.balance))
        elif abs(change) > EPS:
            flows[i] = change
        held = current
    from_deals = any(windows)
    return _Walk(trades, flows, returns, from_deals, commission, swap)
