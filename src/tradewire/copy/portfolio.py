"""A netting account that follows several channels (pure): each channel's target is planned by
its own rules against its own share of the account, and the account holds their sum.

On a netting account every trade on a symbol merges into one position, so the channels cannot
each keep theirs. Instead the account's own volume (its deals, copy/holdings.py) is one whole,
and each channel's *share* of it is booked: when the account holds the sum of the channels'
targets on a symbol, each channel's share becomes its target there. A channel planned against
its share sees exactly what a follower of that channel alone would hold, so its guards
(close_only, a stale signal, the price guard, its risk limits) hold back its share only, and one
change of one channel is one order of that change. Channels long and short on one symbol net
out: alpha +0.1 and beta -0.3 are one position of -0.2, and alpha adding 0.2 closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

from tradewire.copy.holdings import Holding
from tradewire.copy.plan import plan
from tradewire.copy.rules import CopyRules
from tradewire.copy.targets import FollowerView, Plan, ProviderState, Skip, TargetPosition
from tradewire.model import Side

Shares = dict[str, dict[str, float]]  # channel -> follower symbol -> signed lots


@dataclass(frozen=True)
class Channel:
    name: str
    state: ProviderState | None  # None: no signal yet, so its share is held as it is
    rules: CopyRules  # planned with the account's magic, pending orders copied at market
    stopped: bool = False  # stop_equity ended it: its share is closed and stays so


def plan_portfolio(
    channels: Sequence[Channel],
    view: FollowerView,
    shares: Mapping[str, Mapping[str, float]],
    now_ms: int,
    notes: dict[str, str] | None = None,
) -> tuple[Plan, dict[str, dict[str, float]], set[str]]:
    """(the account's plan, each channel's signed target per symbol, the channels whose plan
    stopped at stop_equity this round)."""
    wanted: dict[str, dict[str, float]] = {}
    parts: dict[str, list[TargetPosition]] = {}
    skips: list[Skip] = []
    stopped: set[str] = set()
    reduce_only = False
    for channel in channels:
        mine = dict(shares.get(channel.name, {}))
        if channel.state is None or channel.stopped:
            wanted[channel.name] = {} if channel.stopped else mine
            continue
        rules = msgspec.structs.replace(channel.rules, copy_pending=False)
        own_notes: dict[str, str] | None = {} if notes is not None else None
        result = plan(channel.state, share_view(view, mine), rules, now_ms, own_notes)
        if result.stopped:
            stopped.add(channel.name)
        reduce_only = reduce_only or result.reduce_only
        skips += [
            Skip(
                s.symbol,
                f"{channel.name}: {s.reason}",
                f"{channel.name}:{s.kind}" if s.kind else "",
            )
            for s in result.skips
        ]
        wanted[channel.name] = {
            t.symbol: t.volume if t.side == "buy" else -t.volume for t in result.target.values()
        }
        for part in result.target.values():
            parts.setdefault(part.symbol, []).append(part)
        for key, text in (own_notes or {}).items():
            assert notes is not None
            notes[key] = f"{notes[key]}; " if key in notes else ""
            notes[key] += f"{channel.name} {text}"
    target: dict[str, TargetPosition] = {}
    for symbol in {s for mine in wanted.values() for s in mine}:
        total = round(sum(mine.get(symbol, 0.0) for mine in wanted.values()), 8)
        if abs(total) < 1e-9:
            continue
        target[symbol] = _summed(symbol, total, parts.get(symbol, []))
        if notes is not None:
            terms = " + ".join(
                f"{name} {mine[symbol]:+g}" for name, mine in wanted.items() if symbol in mine
            )
            notes[symbol] = f"{total:+g} = {terms} ({notes.get(symbol, 'held as booked')})"
    for symbol, holding in (view.holdings or {}).items():
        if not holding.settled:  # the broker's deals are behind: hold what is there
            skips.append(Skip(symbol, f"the deals of {symbol} do not add up yet: waiting"))
            target.pop(symbol, None)
            if abs(holding.own) > 1e-9:
                target[symbol] = _summed(symbol, holding.own, parts.get(symbol, []))
    return Plan(target, skips, reduce_only=reduce_only, orders=None), wanted, stopped


def share_view(view: FollowerView, share: Mapping[str, float]) -> FollowerView:
    """``view`` as a follower of one channel alone would see it: its own volume in each
    symbol is the channel's share (a symbol where the account is flat may still hold a share,
    netted out by another channel's)."""
    holdings = dict(view.holdings or {})
    for symbol, holding in list(holdings.items()):
        holdings[symbol] = msgspec.structs.replace(holding, own=share.get(symbol, 0.0))
    for symbol, lots in share.items():
        if symbol not in holdings and abs(lots) > 1e-9:
            holdings[symbol] = Holding(symbol, "", 0.0, lots)
    return msgspec.structs.replace(view, holdings=holdings)


def rebook(
    shares: Mapping[str, Mapping[str, float]],
    wanted: Mapping[str, Mapping[str, float]],
    own: Mapping[str, float],
) -> Shares:
    """The shares after a round: on each symbol the account holds the channels' summed
    target of, each channel's share becomes its target; elsewhere they stay as booked (an
    order is on its way, or will be)."""
    out: Shares = {name: dict(mine) for name, mine in shares.items()}
    for name in wanted:
        out.setdefault(name, {})
    symbols = {s for mine in wanted.values() for s in mine} | {
        s for mine in shares.values() for s in mine
    }
    for symbol in symbols:
        total = sum(mine.get(symbol, 0.0) for mine in wanted.values())
        if abs(own.get(symbol, 0.0) - total) > 1e-9:
            continue
        for name, mine in wanted.items():
            lots = mine.get(symbol, 0.0)
            if abs(lots) > 1e-9:
                out[name][symbol] = lots
            else:
                out[name].pop(symbol, None)
    return {name: mine for name, mine in out.items() if mine or name in wanted}


def _summed(symbol: str, total: float, parts: Sequence[TargetPosition]) -> TargetPosition:
    """One target of ``total`` signed lots; its entry price averages the channels' on its
    side, its stops are those of the largest of them."""
    side: Side = "buy" if total > 0 else "sell"
    along = [t for t in parts if t.side == side] or list(parts)
    if not along:  # held as booked by channels without a signal: no price to compare with
        return TargetPosition(symbol, symbol, side, round(abs(total), 8), 0.0)
    lots = sum(t.volume for t in along)
    ref = sum(t.ref_price * t.volume for t in along) / lots if lots else 0.0
    largest = max(along, key=lambda t: t.volume)
    return TargetPosition(symbol, symbol, side, round(abs(total), 8), ref, "", largest.stops)
