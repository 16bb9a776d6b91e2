"""Keeping a follower's positions protected (pure): the stops an opening order carries, and
the modifications that keep each held position's stops where the target says.

An order that opens a follower position carries its stops, so the position is never bare at
the broker, not even for one round. A stop measured from the follower's own entry is placed
from the price the order is expected to fill at, then corrected from the actual fill price by a
modification in the next round. A provider's change of SL/TP becomes one modification of the
same position: no close and reopen.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from tradewire.copy.reconcile import CopyOrder
from tradewire.copy.stops import allowed, differs, levels
from tradewire.copy.targets import TargetPosition, key_of
from tradewire.model import Mode, Position, Quote, SymbolSpec


def stop_changes(
    target: Mapping[str, TargetPosition],
    positions: Sequence[Position],
    mode: Mode,
    ours: Collection[str],
    specs: Mapping[str, SymbolSpec | None],
    quotes: Mapping[str, Quote],
    busy: Collection[str],
    magic: int,
) -> list[CopyOrder]:
    """Modifications that bring held positions' stops to their targets'.

    ``ours``: the follower's positions (hedging: ids of positions with its magic; netting: the
    symbols where it holds volume of its own). ``busy``: keys with a volume order this round,
    whose stops wait for the next one."""
    changes: list[CopyOrder] = []
    for pos in positions:
        if mode == "netting":
            if pos.symbol not in ours:
                continue
            key = pos.symbol
        else:
            if pos.id not in ours:
                continue
            key = key_of(pos, "hedging")
        want = target.get(key)
        spec = specs.get(pos.symbol)
        if want is None or key in busy or spec is None or want.side != pos.side:
            continue
        sl, tp = levels(want.stops, pos.side, pos.price, spec)
        sl = pos.sl if want.stops.keep_sl else sl
        tp = pos.tp if want.stops.keep_tp else tp
        quote = quotes.get(pos.symbol)
        sl, tp, note = allowed(pos.side, sl, tp, quote, spec)
        if note:
            # A level the broker would not take was moved to the nearest one it takes. That
            # moves with the price: once the position has a level the broker takes, keep it,
            # rather than chase the price with a modification every round.
            moved = allowed(pos.side, pos.sl, pos.tp, quote, spec)[2]
            if not moved:
                sl = pos.sl if pos.sl and "stop-loss" in note else sl
                tp = pos.tp if pos.tp and "take-profit" in note else tp
        if differs(sl, pos.sl, spec) or differs(tp, pos.tp, spec):
            changes.append(
                CopyOrder(
                    key,
                    "modify",
                    pos.symbol,
                    pos.side,
                    pos.volume,
                    pos.id,
                    magic=magic,
                    sl=sl,
                    tp=tp,
                    note=note,
                )
            )
    return changes
