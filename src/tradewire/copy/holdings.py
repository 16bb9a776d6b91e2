"""What a follower holds: its own volume per target key, never what merely shares its symbol.

On a hedging account every position stands alone and carries the magic and link comment of the
order that opened it, so the follower's positions are those with its magic.

On a netting account every trade on a symbol merges into one position, which keeps the magic of
the trade that opened it. A follower that judged its volume by that magic would never see what it
added to a manual position, and would buy again, and again. Its own volume is instead the signed
sum of its own deals (its magic) in the symbol's current position: the broker keeps those deals,
so this ledger survives restarts. A position closed completely ends its ledger; the next one on
the symbol has a new identifier and starts from nothing. Whatever else is in the position (a
manual trade, another program's) is *foreign*: left alone, and shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from tradewire.model import Deal, Position


class Holding(msgspec.Struct, frozen=True):
    """One symbol of a netting account: the account's net and the follower's share of it."""

    symbol: str
    position_id: str
    net: float  # signed: the whole position, whoever traded it
    own: float  # signed: what this follower's deals put in
    source: Literal["deals", "magic"] = "deals"  # "magic": the broker kept no deals for it
    # False when the position's deals do not add up to its volume: the broker's history is
    # behind its positions (a deal not yet recorded), so ``own`` cannot be trusted yet.
    settled: bool = True

    @property
    def foreign(self) -> float:
        return round(self.net - self.own, 8)


def signed(side: str, volume: float) -> float:
    return volume if side == "buy" else -volume


def netting_holdings(
    positions: Sequence[Position], deals: Mapping[str, Sequence[Deal] | None], magic: int
) -> dict[str, Holding]:
    """Per symbol, the follower's own volume in the account's position.

    ``deals`` maps a position id to its deals. Without any (the broker keeps no history for
    it) the position counts as ours only when its magic is ours, the best that can be said."""
    out: dict[str, Holding] = {}
    for p in positions:
        net = signed(p.side, p.volume)
        history = deals.get(p.id)
        if not history:  # every position has a deal: none means the broker keeps no history
            own = net if p.magic == magic else 0.0
            out[p.symbol] = Holding(p.symbol, p.id, net, own, "magic")
            continue
        own = sum(signed(d.side, d.volume) for d in history if d.magic == magic)
        total = sum(signed(d.side, d.volume) for d in history)
        settled = abs(total - net) <= 1e-6
        out[p.symbol] = Holding(p.symbol, p.id, net, round(own, 8), "deals", settled)
    return out


def own_by_symbol(holdings: Mapping[str, Holding]) -> dict[str, float]:
    """The follower's signed volume per symbol, leaving out symbols where it has none."""
    return {s: h.own for s, h in holdings.items() if abs(h.own) > 1e-9}
