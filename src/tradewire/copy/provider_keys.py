"""The provider's side of a plan, worked out once per state for every account that plans it
the same way: its positions in time order, each one's follower symbol (or why it is not
copied) and target key, and per key the net volume, side and entry price. A copy engine plans
one state for a thousand accounts whose rules are most often equal; this is the part of each
plan that is the same for all of them (copy/plan.py sizes it for each account).

Memoised, not stored: the last answer is kept with the state, the rules, the follower's mode
and its triggered orders it came from, and is only reused for that same state object and equal
inputs, so ``plan`` stays a pure function of its arguments.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from tradewire.copy.mapping import map_symbol
from tradewire.copy.pending import stand_ins
from tradewire.copy.rules import CopyRules
from tradewire.copy.targets import ProviderState
from tradewire.model import Position, Side


class KeyTotal(msgspec.Struct, frozen=True):
    """One target key's provider positions, summed."""

    symbol: str  # the follower's symbol
    named: str  # the provider's symbol of its oldest position: what skips name the key by
    net: float  # signed: buy > 0
    side: Side  # of ``net`` (the provider's, before ``reverse``)
    same: list[Position]  # the positions on that side
    ref: float  # their volume-weighted entry price
    ref_volume: float  # their total volume


class ProviderKeys(msgspec.Struct, frozen=True):
    # every position in time order: (position, follower symbol or None, why not copied, key)
    entries: list[tuple[Position, str | None, str, str]]
    totals: dict[str, KeyTotal]  # by key, in the order the keys first appear


# One tuple, replaced whole: a reader on another thread sees the old answer or the new one.
_last: tuple[ProviderState, CopyRules, str, frozenset[str], ProviderKeys] | None = None


def provider_keys(
    state: ProviderState, rules: CopyRules, follower_mode: str, triggered: Collection[str]
) -> ProviderKeys:
    """``state``'s positions as targets for a follower with ``rules`` in ``follower_mode``
    (and its copies of ``triggered`` provider orders held as if they were positions)."""
    global _last
    fired = frozenset(triggered)
    last = _last
    if (
        last is not None
        and last[0] is state
        and last[2] == follower_mode
        and last[3] == fired
        and (last[1] is rules or last[1] == rules)
    ):
        return last[4]
    keys = _work_out(state, rules, follower_mode, fired)
    _last = (state, rules, follower_mode, fired, keys)
    return keys


def _work_out(
    state: ProviderState, rules: CopyRules, follower_mode: str, triggered: frozenset[str]
) -> ProviderKeys:
    entries: list[tuple[Position, str | None, str, str]] = []
    members: dict[str, list[tuple[Position, str]]] = {}
    positions = [*state.positions, *stand_ins(state, triggered)]
    for pos in sorted(positions, key=lambda p: (p.time, p.id)):
        symbol, reason = map_symbol(pos.symbol, rules)
        if symbol is None:
            entries.append((pos, None, reason, ""))
            continue
        if follower_mode == "netting":
            key = symbol
        else:
            key = f"p{pos.id}" if state.account.mode == "hedging" else f"s{pos.symbol}"
        entries.append((pos, symbol, "", key))
        members.setdefault(key, []).append((pos, symbol))
    totals = {}
    for key, held in members.items():
        net = sum(p.volume if p.side == "buy" else -p.volume for p, _ in held)
        side: Side = "buy" if net > 0 else "sell"
        same = [p for p, _ in held if p.side == side]
        volume = sum(p.volume for p in same)
        ref = sum(p.price * p.volume for p in same) / volume if volume else 0.0
        totals[key] = KeyTotal(
            held[0][1], held[0][0].symbol, net, side, same, ref, round(volume, 8)
        )
    return ProviderKeys(entries, totals)


_last_symbols: tuple[ProviderState, CopyRules, frozenset[str]] | None = None


def follower_symbols(state: ProviderState, rules: CopyRules) -> frozenset[str]:
    """The follower symbols of ``state``'s positions and pending orders under ``rules``: what
    a round reads specs and quotes of (memoised as ``provider_keys`` is)."""
    global _last_symbols
    last = _last_symbols
    if last is not None and last[0] is state and (last[1] is rules or last[1] == rules):
        return last[2]
    names = [p.symbol for p in state.positions] + [o.symbol for o in state.orders or []]
    mapped = (map_symbol(name, rules)[0] for name in names)
    symbols = frozenset(s for s in mapped if s is not None)
    _last_symbols = (state, rules, symbols)
    return symbols
