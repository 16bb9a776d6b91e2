"""The what-if replay (docs/simulate.md): a channel's kept history, copied moment by moment by
the real :class:`Follower` onto a paper account of its own, on a clock that steps through the
moments. The copy is the live one: the same ``plan()``/``reconcile()``, rounding, guards,
risk limits, stops and pending orders; the paper account fills at the prices of
:class:`PriceBook` and triggers stops and pending orders when a price is pinned.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.clock import ManualClock, now_ms
from tradewire.copy.mapping import map_symbol
from tradewire.copy.rules import CopyRules
from tradewire.copy.targets import ProviderState
from tradewire.model import Account, Deal, Mode
from tradewire.protocol.frames.history import (
    MAX_FILLS,
    MAX_SKIPS,
    SimFill,
    SimSkip,
    Simulation,
)
from tradewire.simulate.prices import SOURCES, PriceBook
from tradewire.stats.channel import Point, channel_stats, thin_curve

ROUNDS = 4  # copy rounds per moment at most: a close, then an open, then stops
JOURNAL_KEEP = 100_000
Progress = Callable[[int, int], None]  # (moments done, moments in all)


async def replay(
    channel: str,
    points: Sequence[Point],
    deals: Sequence[tuple[int, Deal]],
    prices: PriceBook,
    rules: CopyRules,
    deposit: float,
    mode: Mode = "hedging",
    leverage: int = 100,
    progress: Progress | None = None,
) -> Simulation:
    """Replay ``points`` (oldest first, the first with positions) onto a new paper account."""
    clock = ManualClock(points[0].ts / 1000)
    journal = Journal(None, keep=JOURNAL_KEEP)
    with tempfile.TemporaryDirectory(prefix="tradewire-simulate-") as tmp:
        settings = PaperSettings(login="simulated", mode=mode, balance=deposit, leverage=leverage)
        broker = await PaperBroker.open(Path(tmp) / "simulated.db", settings, clock=clock)
        try:
            follower = Follower(broker, channel, rules, journal=journal, clock=clock)
            curve = await _run(points, prices, rules, broker, follower, clock, progress)
            account = await broker.account()
            own_deals = await broker.deals_since(0)
        finally:
            await broker.close()
    return _report(channel, points, curve, own_deals, journal, prices, deposit, mode, account)


async def _run(
    points: Sequence[Point],
    prices: PriceBook,
    rules: CopyRules,
    broker: PaperBroker,
    follower: Follower,
    clock: ManualClock,
    progress: Progress | None,
) -> list[Point]:
    symbols = list(prices.symbols())
    pinned: dict[str, tuple[float, float]] = {}
    curve: list[Point] = []
    latest = points[0]
    ends = [p.ts for p in points[1:]] + [points[-1].ts]
    for seq, (point, end) in enumerate(zip(points, ends, strict=True), start=1):
        before = now_ms(clock)
        if point.ts > before:
            clock.advance((point.ts - before) / 1000)
        # Strictly later each moment (whatever the float rounding of the ms): the account's
        # deals then sit beside their own moment.
        while seq > 1 and now_ms(clock) <= before:
            clock.advance(0.001)
        for symbol in symbols:  # stops and pending orders the move reaches trigger here
            quote = prices.quote(symbol, point.ts, end - point.ts)
            if quote is not None and pinned.get(symbol) != quote:  # a pin is a write
                pinned[symbol] = quote
                for name in {symbol, map_symbol(symbol, rules)[0] or symbol}:
                    await broker.pin(name, *quote)
        if point.positions is not None:
            latest = point
            account = Account(
                "provider", "USD", point.balance, point.equity, latest.leverage, latest.mode
            )
            state = ProviderState(
                account,
                list(point.positions),
                point.ts,
                seq,
                None if point.orders is None else list(point.orders),
            )
            follower.accept(state, [])
            for _ in range(ROUNDS):
                if not await follower.sync_once():
                    break
                await follower.settle()
        mine = await broker.account()
        held = tuple(await broker.positions()) if point.positions is not None else None
        curve.append(Point(now_ms(clock), mine.balance, mine.equity, held, mine.margin))
        if progress is not None:
            progress(seq, len(points))
    return curve


def _report(
    channel: str,
    points: Sequence[Point],
    curve: list[Point],
    own_deals: list[Deal],
    journal: Journal,
    prices: PriceBook,
    deposit: float,
    mode: str,
    account: Account,
) -> Simulation:
    placed = [(d.time, d) for d in own_deals]
    stats = channel_stats(channel, "USD", curve, placed)
    fills = [
        SimFill(d.time, d.symbol, d.side, d.volume, d.price, d.entry, round(d.profit, 2))
        for d in own_deals
    ]
    skips = [
        SimSkip(e["time_ms"], e.get("symbol", ""), e.get("reason", ""))
        for e in journal.recent
        if e["event"] in ("skip", "reject")
    ]
    return Simulation(
        ch=channel,
        deposit=deposit,
        mode=mode,
        moments=len(points),
        balance=round(account.balance, 2),
        equity=round(account.equity, 2),
        stats=stats,
        provider_curve=thin_curve(points),
        fills=fills[:MAX_FILLS],
        fills_total=len(fills),
        skips=skips[:MAX_SKIPS],
        skips_total=len(skips),
        prices={source: prices.used[source] for source in SOURCES},
        price_time_pct=_shares(prices.held_ms),
    )


def _shares(held_ms: Mapping[str, int]) -> dict[str, float]:
    """Each price source's share of the period's symbol-time, in %."""
    total = sum(held_ms.values())
    return {s: round(100 * held_ms[s] / total, 1) for s in SOURCES} if total else {}
